#!/usr/bin/env python3
"""Regenerates the seed files of the regression corpus from the trybuild cases.

Every `dilated::dilated_stack! { … }` body in tests/ui/pass/*.rs becomes `ok-<case>[-n].txt`
(it must expand without errors), every body in tests/ui/fail/*.rs becomes
`fail-<case>[-n].txt` (it must be rejected, unless the case fails only after expansion,
like a type error; those are skipped). Hand-written files (`edge-*.txt`) are kept as they are.
Run from the repository root: python3 fuzz/extract_corpus.py
"""
import glob
import os

# Cases that expand fine and fail later (type errors, denied lints): not macro rejections.
EXPANDS = {"wrong-tensor-type", "warnings-denied"}


def bodies(text):
    out, start = [], 0
    key = "dilated::dilated_stack! {"
    while True:
        i = text.find(key, start)
        if i < 0:
            return out
        j = i + len(key)
        depth = 1
        k = j
        while depth:
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
            k += 1
        out.append(text[j : k - 1].strip() + "\n")
        start = k


for kind, prefix in (("pass", "ok"), ("fail", "fail")):
    for path in sorted(glob.glob(f"tests/ui/{kind}/*.rs")):
        case = os.path.basename(path)[:-3]
        if kind == "fail" and case in EXPANDS:
            continue
        for n, body in enumerate(bodies(open(path).read())):
            name = f"{prefix}-{case}" + (f"-{n}" if n else "") + ".txt"
            with open(os.path.join("fuzz/corpus", name), "w") as f:
                f.write(body)
