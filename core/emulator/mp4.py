"""Small, valid MP4 videos (H.264 Baseline in an ISO BMFF file) made with struct alone.

Rules of this module:
- The first frame is an IDR picture of I_PCM macroblocks (raw samples, no transform coding), every
  later frame a P picture whose macroblocks are all skipped, so any player shows a still image
  for the whole duration; the file is a few kilobytes (ITU-T H.264 7.3, ISO/IEC 14496-12/-15).
- NAL units are length-prefixed (``avcC`` carries SPS/PPS) with emulation prevention applied.
- ``moov`` precedes ``mdat`` ("fast start"), so a reader can stream it.
- The colour derives from a name, so the same request always gives the same bytes.
"""

from __future__ import annotations

import struct

from dashscope_core.emulator.png import colour_for

__all__ = ["make_mp4", "mp4_for_name"]

FPS = 16
"""Frame rate of the Wan video models' output (16 fps)."""
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_LOG2_MAX_FRAME_NUM = 4


class _Bits:
    """An MSB-first bit writer with Exp-Golomb codes."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, width: int, value: int) -> None:
        self.bits += [(value >> i) & 1 for i in range(width - 1, -1, -1)]

    def ue(self, value: int) -> None:
        size = (value + 1).bit_length()
        self.u(size - 1, 0)
        self.u(size, value + 1)

    def align_zero(self) -> None:
        self.bits += [0] * (-len(self.bits) % 8)

    def raw(self, data: bytes) -> None:
        for byte in data:
            self.u(8, byte)

    def trailing(self) -> bytes:
        self.u(1, 1)
        self.align_zero()
        return bytes(
            int("".join(map(str, self.bits[i : i + 8])), 2) for i in range(0, len(self.bits), 8)
        )


def _nal(header: int, rbsp: bytes) -> bytes:
    """A NAL unit with emulation-prevention bytes (H.264 7.4.1)."""
    out, zeros = bytearray([header]), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _sps(width_mbs: int, height_mbs: int) -> bytes:
    b = _Bits()
    b.u(8, 66)  # profile_idc: Baseline
    b.u(8, 0xC0)  # constraint_set0/1 flags
    b.u(8, 30)  # level_idc 3.0
    b.ue(0)  # seq_parameter_set_id
    b.ue(_LOG2_MAX_FRAME_NUM - 4)
    b.ue(2)  # pic_order_cnt_type 2: output order = decoding order
    b.ue(1)  # max_num_ref_frames
    b.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    b.ue(width_mbs - 1)
    b.ue(height_mbs - 1)
    b.u(3, 0b110)  # frame_mbs_only, direct_8x8_inference, no frame_cropping
    b.u(1, 0)  # vui_parameters_present_flag
    return _nal(0x67, b.trailing())


def _pps() -> bytes:
    b = _Bits()
    b.ue(0)  # pic_parameter_set_id
    b.ue(0)  # seq_parameter_set_id
    b.u(2, 0)  # CAVLC, no bottom_field_pic_order_in_frame_present
    b.ue(0)  # num_slice_groups_minus1
    b.ue(0)  # num_ref_idx_l0_default_active_minus1
    b.ue(0)  # num_ref_idx_l1_default_active_minus1
    b.u(3, 0)  # weighted_pred_flag, weighted_bipred_idc
    b.ue(0)  # pic_init_qp_minus26 (se 0 codes as ue 0)
    b.ue(0)  # pic_init_qs_minus26
    b.ue(0)  # chroma_qp_index_offset
    b.u(3, 0)  # deblocking control, constrained intra, redundant_pic_cnt
    return _nal(0x68, b.trailing())


def _idr(mbs: int, yuv: tuple[int, int, int]) -> bytes:
    b = _Bits()
    b.ue(0)  # first_mb_in_slice
    b.ue(7)  # slice_type: I (all slices)
    b.ue(0)  # pic_parameter_set_id
    b.u(_LOG2_MAX_FRAME_NUM, 0)  # frame_num
    b.ue(0)  # idr_pic_id
    b.u(2, 0)  # no_output_of_prior_pics_flag, long_term_reference_flag
    b.ue(0)  # slice_qp_delta
    luma, cb, cr = yuv
    samples = bytes([luma]) * 256 + bytes([cb]) * 64 + bytes([cr]) * 64
    for _ in range(mbs):
        b.ue(25)  # mb_type I_PCM
        b.align_zero()  # pcm_alignment_zero_bit
        b.raw(samples)
    return _nal(0x65, b.trailing())


def _skipped(mbs: int, frame_num: int) -> bytes:
    b = _Bits()
    b.ue(0)  # first_mb_in_slice
    b.ue(5)  # slice_type: P (all slices)
    b.ue(0)  # pic_parameter_set_id
    b.u(_LOG2_MAX_FRAME_NUM, frame_num % (1 << _LOG2_MAX_FRAME_NUM))
    b.u(3, 0)  # num_ref_idx_override, ref_pic_list_modification_l0, adaptive marking
    b.ue(0)  # slice_qp_delta
    b.ue(mbs)  # mb_skip_run: every macroblock copies the previous frame
    return _nal(0x41, b.trailing())


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full(kind: bytes, version_flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version_flags), *parts)


def _sample_entry(width: int, height: int, sps: bytes, pps: bytes) -> bytes:
    avcc = _box(
        b"avcC",
        bytes([1, 66, 0xC0, 30, 0xFF, 0xE1]),
        struct.pack(">H", len(sps)) + sps,
        bytes([1]) + struct.pack(">H", len(pps)) + pps,
    )
    name = b"dashscope-emulator"
    return _box(
        b"avc1",
        bytes(6) + struct.pack(">H", 1),  # reserved, data_reference_index
        bytes(16),  # pre_defined / reserved
        struct.pack(">HHII", width, height, 0x480000, 0x480000),
        struct.pack(">IH", 0, 1),  # reserved, frame_count
        bytes([len(name)]) + name.ljust(31, b"\0"),
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )


def _moov(width: int, height: int, sizes: list[int], offset: int, sps: bytes, pps: bytes) -> bytes:
    frames = len(sizes)
    millis = frames * 1000 // FPS
    stbl = _box(
        b"stbl",
        _full(b"stsd", 0, struct.pack(">I", 1), _sample_entry(width, height, sps, pps)),
        _full(b"stts", 0, struct.pack(">III", 1, frames, 1)),
        _full(b"stss", 0, struct.pack(">II", 1, 1)),
        _full(b"stsc", 0, struct.pack(">IIII", 1, 1, frames, 1)),
        _full(b"stsz", 0, struct.pack(">II", 0, frames), struct.pack(f">{frames}I", *sizes)),
        _full(b"stco", 0, struct.pack(">II", 1, offset)),
    )
    minf = _box(
        b"minf",
        _full(b"vmhd", 1, bytes(8)),
        _box(b"dinf", _full(b"dref", 0, struct.pack(">I", 1), _full(b"url ", 1))),
        stbl,
    )
    mdia = _box(
        b"mdia",
        _full(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, FPS, frames, 0x55C4, 0)),  # 'und'
        _full(b"hdlr", 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0"),
        minf,
    )
    tkhd = _full(
        b"tkhd",
        3,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, millis),
        bytes(8) + struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mvhd = _full(
        b"mvhd",
        0,
        struct.pack(">IIII", 0, 0, 1000, millis),
        struct.pack(">IH", 0x10000, 0x100) + bytes(10),
        _MATRIX,
        bytes(24) + struct.pack(">I", 2),
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 studio-range YCbCr; samples stay within 16..240, never 0."""
    r, g, b = rgb
    y = 16 + (66 * r + 129 * g + 25 * b) // 256
    cb = 128 + (-38 * r - 74 * g + 112 * b) // 256
    cr = 128 + (112 * r - 94 * g - 18 * b) // 256
    return y, cb, cr


def make_mp4(width: int, height: int, seconds: int, rgb: tuple[int, int, int]) -> bytes:
    """A ``width`` x ``height`` H.264 video of one ``rgb`` still, ``seconds`` long at ``FPS``."""
    if width < 16 or height < 16 or width % 16 or height % 16:
        raise ValueError("width/height: expected positive multiples of 16")
    if seconds < 1:
        raise ValueError("seconds: expected a positive duration")
    mbs = (width // 16) * (height // 16)
    sps, pps = _sps(width // 16, height // 16), _pps()
    nals = [_idr(mbs, _yuv(rgb))] + [_skipped(mbs, n) for n in range(1, seconds * FPS)]
    samples = [struct.pack(">I", len(nal)) + nal for nal in nals]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    sizes = [len(s) for s in samples]
    moov_size = len(_moov(width, height, sizes, 0, sps, pps))
    moov = _moov(width, height, sizes, len(ftyp) + moov_size + 8, sps, pps)
    return ftyp + moov + _box(b"mdat", *samples)


def mp4_for_name(name: str, ratio: tuple[int, int] = (16, 9), seconds: int = 5) -> bytes:
    """The deterministic video served for file ``name``: 64 pixels wide, ``ratio`` kept."""
    width = 64
    height = max(16, round(width * ratio[1] / ratio[0] / 16) * 16)
    return make_mp4(width, height, seconds, colour_for(name))
