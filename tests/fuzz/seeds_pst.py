#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Seeds for fuzz_pst: PST/OST headers laid out as MS-PST 2.2.2.6 says
# (magic, CRCs over the right ranges, versions, the root structure),
# Unicode and ANSI, followed by zeroed pages or cut short. libpff reads the
# header, then the B-tree pages the root points at; the fuzzer mutates
# from there. Usage: seeds_pst.py OUTDIR
import os
import struct
import sys


def crc(data):
    # MS-PST CRC: CRC-32 (0xEDB88320), initial value 0, no final inversion
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 if c & 1 else 0)
    return c


def unicode_header(client=b"SM", pages=4):
    h = bytearray(564)
    h[0:4] = b"!BDN"
    h[8:10] = client
    struct.pack_into("<HHBB", h, 10, 23, 19, 1, 1)
    struct.pack_into("<Q", h, 24, 0)            # bidUnused
    struct.pack_into("<Q", h, 32, 0x400)        # bidNextP
    struct.pack_into("<I", h, 40, 1)            # dwUnique
    # root (72 bytes at 180): file size, AMap, BREF NBT and BBT
    end = 0x4400 + pages * 512
    struct.pack_into("<IQQQQQ", h, 180, 0, end, 0x4400, 0, 0, 0)
    struct.pack_into("<QQ", h, 180 + 40, 0x21, 0x4400)        # BREF NBT
    struct.pack_into("<QQ", h, 180 + 56, 0x23, 0x4600)        # BREF BBT
    h[180 + 72] = 1                               # fAMapValid
    h[513] = 1                                    # bCryptMethod: permute
    struct.pack_into("<I", h, 4, crc(h[8:8 + 471]))
    struct.pack_into("<I", h, 524, crc(h[8:8 + 516]))
    return bytes(h)


def ansi_header(client=b"SM"):
    h = bytearray(512)
    h[0:4] = b"!BDN"
    h[8:10] = client
    struct.pack_into("<HHBB", h, 10, 14, 19, 1, 1)
    struct.pack_into("<IIII", h, 168, 0, 0x4400 + 2048, 0x4400, 0)
    h[461] = 0
    struct.pack_into("<I", h, 4, crc(h[8:8 + 471]))
    return bytes(h)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "unicode-pst": unicode_header() + bytes(0x4400 - 564 + 2048),
        "unicode-ost": unicode_header(b"SO") + bytes(0x4400 - 564 + 1024),
        "ansi-pst": ansi_header() + bytes(0x4400 - 512 + 1024),
        "header-only": unicode_header(),
        "cut-in-header": unicode_header()[:300],
        "bad-crc": b"!BDN\x00\x00\x00\x00SM" + unicode_header()[10:],
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
