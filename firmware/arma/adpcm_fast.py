# Allocation-free IMA-ADPCM encoder for the device's frame path. Same bitstream as
# proto.adpcm_encode_block (4-byte state, two samples per byte, low nibble first), but it reads
# int16 samples from a preallocated array('h') and writes into a preallocated buffer, so encoding
# a frame allocates nothing on the MicroPython heap (no tuples, no floats, no slices).
# Proposed for proto.py as `adpcm_encode_into(samples, n, out, offset, state)`.
from arma import proto

_STEPS = proto._STEPS
_ADJ = proto._INDEX_ADJUST


def encode_into(samples, n, out, offset, state):
    # samples: array('h') (or any int sequence) with at least n items, n even;
    # out: bytearray/memoryview with room for 4 + n//2 bytes at offset;
    # state: proto.AdpcmState, updated in place. Returns the number of bytes written.
    pred = state.predictor
    index = state.index
    out[offset] = pred & 0xFF
    out[offset + 1] = (pred >> 8) & 0xFF
    out[offset + 2] = index
    out[offset + 3] = 0
    pos = offset + 4
    i = 0
    while i < n:
        step = _STEPS[index]
        delta = samples[i] - pred
        code = 0
        if delta < 0:
            code = 8
            delta = -delta
        diff = step >> 3
        if delta >= step:
            code |= 4
            delta -= step
            diff += step
        half = step >> 1
        if delta >= half:
            code |= 2
            delta -= half
            diff += half
        if delta >= step >> 2:
            code |= 1
            diff += step >> 2
        if code & 8:
            pred -= diff
            if pred < -32768:
                pred = -32768
        else:
            pred += diff
            if pred > 32767:
                pred = 32767
        index += _ADJ[code & 7]
        if index < 0:
            index = 0
        elif index > 88:
            index = 88
        if i & 1:
            out[pos] |= code << 4
            pos += 1
        else:
            out[pos] = code
        i += 1
    state.predictor = pred
    state.index = index
    return pos - offset


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


def decode_into(src, pos, end, out, state):
    # Decodes ADPCM bytes src[pos:end] (low nibble first) into out as PCM16LE, as many as fit;
    # state (proto.AdpcmState) carries predictor/index between calls. Returns the new pos;
    # the PCM written is 4 bytes per source byte. Allocates nothing.
    pred = state.predictor
    index = state.index
    o = 0
    cap = len(out) - 3
    while pos < end and o < cap:
        byte = src[pos]
        k = 0
        while k < 2:
            code = byte & 0x0F if k == 0 else byte >> 4
            step = _STEPS[index]
            diff = step >> 3
            if code & 4:
                diff += step
            if code & 2:
                diff += step >> 1
            if code & 1:
                diff += step >> 2
            if code & 8:
                pred -= diff
                if pred < -32768:
                    pred = -32768
            else:
                pred += diff
                if pred > 32767:
                    pred = 32767
            index += _ADJ[code & 7]
            if index < 0:
                index = 0
            elif index > 88:
                index = 88
            out[o] = pred & 0xFF
            out[o + 1] = (pred >> 8) & 0xFF
            o += 2
            k += 1
        pos += 1
    state.predictor = pred
    state.index = index
    return pos
