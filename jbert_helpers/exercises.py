"""演習 (exercises): a check cell that tells the learner whether their answer is right.

Every lesson ends with one or two exercises. The learner writes the answer into a variable
(left as ``...`` in the stored notebook) and runs the check cell, which calls :func:`check`.

Example::

    >>> check(..., 13, what="トークン数")
    ⏳ トークン数: まだ答えが入っていません (... を答えに書き換えてから実行してください)
    >>> check(13, 13, what="トークン数")
    ✅ トークン数: 正解です
    >>> check(12, 13, what="トークン数", hint="[CLS] と [SEP] も数えます")
    ❌ トークン数: 12 ではありません。ヒント: [CLS] と [SEP] も数えます
"""

from __future__ import annotations


def check(answer: object, expected: object, *, what: str = "答え", hint: str = "") -> None:
    """Print whether ``answer`` equals ``expected``; ``...`` means "not answered yet".

    Returns nothing, so the check cell shows only the printed verdict.
    """
    if answer is Ellipsis:
        print(f"⏳ {what}: まだ答えが入っていません (... を答えに書き換えてから実行してください)")
        return
    if answer == expected:
        print(f"✅ {what}: 正解です")
        return
    tail = f"。ヒント: {hint}" if hint else "。もう一度考えてみましょう"
    print(f"❌ {what}: {answer!r} ではありません{tail}")
