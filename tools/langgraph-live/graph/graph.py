"""The graph the live LangGraph tests run (tools/langgraph-live).

One node, `work`, takes `steps` steps of `step_seconds` each and writes its progress counter to
`$WFCANCEL_PROGRESS_DIR/<tag>` after every step, so a test can see whether the node really
stopped after a cancel. With `fail: true` it raises at once (a run that ends `error`).

The node is async: an interrupt stops it at its next `await`. (A synchronous node is not stopped
by an interrupt: the run reads `interrupted` while its code runs to its end. That is the
server's limit, documented in wfcancel-langgraph.) The progress file is written in a thread:
`langgraph dev` refuses blocking I/O inside async nodes.
"""

import asyncio
import os
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    tag: str
    steps: int
    step_seconds: float
    fail: bool
    done: int


def _progress(tag: str, i: int) -> None:
    folder = os.environ.get("WFCANCEL_PROGRESS_DIR")
    if not folder or not tag:
        return
    path = os.path.join(folder, tag)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(i))
    os.replace(tmp, path)


async def work(state: State) -> State:
    if state.get("fail"):
        raise ValueError("failing on purpose (input fail=true)")
    tag = state.get("tag", "")
    steps = int(state.get("steps", 0))
    pause = float(state.get("step_seconds", 0.1))
    for i in range(1, steps + 1):
        await asyncio.sleep(pause)
        await asyncio.to_thread(_progress, tag, i)
    return {"done": steps}


builder = StateGraph(State)
builder.add_node("work", work)
builder.add_edge(START, "work")
builder.add_edge("work", END)
graph = builder.compile()
