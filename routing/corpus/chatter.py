"""Messages that state no problem, and real reports framed the same way (our own writing).

    /work/venv/bin/python -m routing.corpus.chatter

Writes two files of the packaged corpus (deterministic):

* ``routing/corpus/nothing.jsonl`` — greetings, "can you tell me more", vague follow-ups
  ("我想问一下上次那件事"), tests, "never mind": the pseudo-category ``nothing``, on which the
  classifier abstains (triage: a person reads it; docs/classifier.md);
* ``routing/corpus/framed.jsonl`` — short reports of ``routing/training.jsonl`` wrapped in the
  same openings and endings ("hi, I have a question: ...", "我想问一下，..."), labelled with
  the report's own category: the framing alone says nothing, the problem named decides.

Bare thanks and compliments are not here: they are ``other`` (feedback), as the lexicon says.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from routing.model import TRAINING_PATH, load_training
from routing.text import has_cjk

HERE = Path(__file__).resolve().parent

EN_BODY = """I would like to know more about what we talked about
I want to know about it
can you tell me more
can you tell me more about that
tell me more please
what about the thing I asked last time
any news on that
any update?
any updates on what I said before
so what happened with it
I wanted to ask about the matter from before
just following up on our conversation
following up on my last message
about what I mentioned earlier
regarding the issue we discussed
I have a question
I have a few questions
I have something to ask
can I ask you something
may I ask a question
I need some information
I need to talk to someone
can someone call me back
please call me back when you can
can we talk
can I speak to a person
is anyone there
are you there?
is this working
testing testing
just testing
hello?
hi there, how are you
good morning
good evening everyone
hey
ok
got it
noted
I see
sure
alright then
never mind
forget it
sorry wrong message
sorry, sent by mistake
oops
let me think about it
I will get back to you
I'll tell you later
wait a moment
one second
see you
bye
have a nice day
same as before
what I said yesterday
the same thing again
you know what I mean
it's about the thing
about that
this one
that one
what do you think
what should I do
what can I do
how does this work
what is this
who are you
I don't know what to say
I forgot what I wanted to say
nothing, just checking
nothing special
no problem now
all good
everything is fine
I would like to know more
I'd like to know more about it
I'd like some more details
could you explain a bit more
could you give me more details
please let me know
let me know what you think
let me know when you know
please keep me posted
I want to follow up
I want to ask about the thing from last week
what's going on with it
did you get my message
did you see what I sent
I sent you something earlier
please reply
hello, anyone?
can you help me
I need help with something
help
question
info please
more info please""".strip().splitlines()

EN_PRE = ["", "", "", "hi, ", "hello, ", "hey ", "good morning, ", "sorry, ", "um ", "excuse me, "]
EN_POST = ["", "", "", "?", " thanks", ", thank you", " pls", "!", "...", " :)"]
ZH_BODY = """我想问一下上次那件事
我想了解一下我们上次说的事情
上次那件事怎么样了
那个事情有进展吗
有消息了吗
有什么进展吗
我想再了解一下
能不能详细说说
能再说详细一点吗
跟我说说吧
我有个问题想问
我想咨询一下
请问一下
问一下
我想问个事
有人吗
在吗
在不在
有人在吗
你好
您好
大家好
嗨
哈喽
测试一下
试一下
好的
收到
知道了
明白了
嗯
嗯嗯
好吧
没事了
算了
不用了
发错了
不好意思发错了
等一下
稍等
我再想想
回头再说
我晚点再说
再见
拜拜
还是上次那个
就是之前说的那个
你懂的
就那个事
关于那件事
这个怎么弄
怎么用啊
这是什么
你是谁
我也不知道怎么说
我忘了要说什么
没什么，就是看看
现在没问题了
一切都好
能给我回个电话吗
麻烦回个电话
我想找个人聊聊
能帮我一下吗
帮帮忙
我需要帮助
请回复
看到我的消息了吗
我之前发过的
跟进一下上次的事
我想跟进一下
你们怎么看
我该怎么办
怎么办呢
想多了解一点
能给我讲讲吗
再跟我讲讲
关于上周说的那件事
之前反映的那个怎么样了""".strip().splitlines()

ZH_PRE = ["", "", "", "你好，", "您好，", "请问", "不好意思，", "那个，", "喂，"]
ZH_POST = ["", "", "", "？", "，谢谢", "。", "啊", "呀", "！", "，麻烦了"]

EN_FRAME = (
    "hi, I have a question: {}",
    "I would like to know, {}",
    "following up on what we discussed: {}",
    "can you tell me more? {}",
    "hello, {}",
    "sorry to bother you, {}",
    "about the thing I mentioned: {}",
    "{}, can someone call me back",
    "{}. please let me know",
    "{}. any update?",
    "{}, thanks",
    "just wanted to ask, {}",
)
ZH_FRAME = (
    "我想问一下，{}",
    "你好，{}",
    "您好，请问{}",
    "上次说的那件事，{}",
    "跟进一下，{}",
    "不好意思打扰了，{}",
    "{}，能回个电话吗",
    "{}，有进展吗",
    "{}，谢谢",
    "{}，麻烦了",
    "我想咨询一下，{}",
    "在吗？{}",
)


def _nothing(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for bank, pre, post, lang in (
        (EN_BODY, EN_PRE, EN_POST, "en"),
        (ZH_BODY, ZH_PRE, ZH_POST, "zh"),
    ):
        for body in bank:
            rows.append((body, lang))
            for _ in range(2):
                rows.append((rng.choice(pre) + body + rng.choice(post), lang))
    seen: set[str] = set()
    out = []
    for text, lang in rows:
        if text not in seen:
            seen.add(text)
            out.append({"text": text, "category": "nothing", "lang": lang})
    return out


def _framed(rng: random.Random) -> list[dict[str, str]]:
    out = []
    for text, cat in load_training(TRAINING_PATH):
        if cat == "nothing" or rng.random() >= 0.5:
            continue
        zh = has_cjk(text)
        frame = rng.choice(ZH_FRAME if zh else EN_FRAME)
        out.append({"text": frame.format(text), "category": cat, "lang": "zh" if zh else "en"})
    return out


def main() -> int:
    rng = random.Random(7)
    for name, rows in (("nothing.jsonl", _nothing(rng)), ("framed.jsonl", _framed(rng))):
        with (HERE / name).open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
