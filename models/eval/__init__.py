"""Evaluation of the speech engine on synthetic voices: speech synthesis with espeak-ng and
flite voice variants (`synth`), babble and pink noise at a chosen SNR (`noise`), the
pocketsphinx peer with a JSGF grammar from the same domain (`peer`), and the harness that
prints the table and plots accuracy against SNR (`run`)."""
