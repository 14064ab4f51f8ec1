"""Normalisers: spoken Turkish/English words to canonical values.

Owns word-level text normalisation (`text`), number words (`numbers`), dates and times
relative to a reference time in the tenant zone (`dates`, `times`), quantities, measured
values with units, percentages, temperatures, phone and serial numbers (`measures`), and
the registry of built-in slot types that domains use (`builtins`). Pure Python, no heavy deps.
"""
