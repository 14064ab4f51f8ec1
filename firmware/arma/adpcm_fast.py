# Allocation-free audio helpers for the device's frame path: the ADPCM encode/decode-into
# functions of the shared codec (they write into preallocated buffers, so a frame allocates
# nothing on the MicroPython heap) and integer peak meters for end-of-speech silence.
from arma import proto

# the allocation-free codec functions live in the shared codec; re-exported for the app
encode_into = proto.adpcm_encode_into
decode_into = proto.adpcm_decode_into


def peak(samples, n):
    # Largest absolute sample among the first n; integer only (used for end-of-speech silence).
    top = 0
    i = 0
    while i < n:
        v = samples[i]
        if v < 0:
            v = -v
        if v > top:
            top = v
        i += 1
    return top


def peak_le16(buf, offset, n):
    # Same as peak() for n PCM16LE samples stored as bytes at offset.
    top = 0
    i = offset
    end = offset + 2 * n
    while i < end:
        v = buf[i] | (buf[i + 1] << 8)
        if v >= 0x8000:
            v = 0x10000 - v
        if v > top:
            top = v
        i += 2
    return top
