// comment with rule keyword: rule fake {
/* block } comment */
rule a { condition: b }
rule b { strings: $ = "anon string" condition: any of them }
global private rule g { condition: filesize > 0 }
include "other.yar"
rule "bad
