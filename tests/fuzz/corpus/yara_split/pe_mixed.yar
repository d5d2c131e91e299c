import "pe"
import "math"
rule pe_only { condition: pe.number_of_sections > 2 and not pe.is_dll() }
rule pe_loop { condition: for any i in (0 .. pe.number_of_signatures) : (pe.signatures[i].issuer contains "x") }
rule pe_at { strings: $a = { 83 EC 04 60 E9 } condition: $a at pe.entry_point }
rule be { strings: $a = "a long literal here" condition: uint16be(0) == 0x4d5a and $a }
rule mixed { strings: $a = "first literal" $b = "second literal" condition: uint16(0) == 0x5a4d and filesize < 1MB or 2 of them }
rule costly { strings: $a = "8 bytes!" condition: pe.imphash() == "x" or $a }
rule cheap { strings: $a = "entropy literal" condition: $a and math.entropy(0, filesize) > 7 }
