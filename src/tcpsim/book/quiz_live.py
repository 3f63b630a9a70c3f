"""A question in JupyterLab (ipywidgets): each "another one" runs the simulator for a fresh variant.

The website has a pool of pre-generated variants (`tcpsim.book.sphinx`); here the kernel is at hand,
so variant k is computed when it is asked for, with no end to them.  The widgets check each field as
the page does (`tcpsim.book.quiz.check`) and say the same words (`tcpsim.book.text`).  A link to the
section that corrects a misconception opens that chapter's notebook.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .live import _widgets, live_box_class
from .quiz import Question, answer_html, check, variant_html
from .text import t


class QuizWidget:
    """The widgets of one question: its variant drawn as HTML, a control per field, check and another."""

    def __init__(self, question: Question):
        w = _widgets()
        self.question, self.k = question, 0
        self.body = w.HTML()
        self.fields = w.VBox()
        self.check_button = w.Button(description=t("page.quiz_check"), button_style="primary")
        self.another_button = w.Button(description=t("page.quiz_another"))
        self.feedback = w.HTML()
        self.solution = w.HTML()
        self.check_button.on_click(self.check)
        self.another_button.on_click(self.another)
        self.box = live_box_class()([self.body, self.fields, w.HBox([self.check_button, self.another_button]),
                                     self.feedback, self.solution])
        self.box.add_class("tcpsim-quiz-widget")
        self.box.static = ""              # the website shows the question's own form (show()), not this cell
        self.box.plain = t("quiz.widget.plain", title=t(f"quiz.title.{question.kind}"))
        self.show(0)

    def show(self, k: int) -> None:
        w = _widgets()
        self.k, self.v = k, self.question.variant(k)
        counter = t("page.quiz_variant", n=k + 1, total="∞")
        self.body.value = variant_html(self.v, answers=False) + f"<p>{escape(counter)}</p>"
        self.controls: dict[str, Any] = {}
        for f in self.v["fields"]:
            style, layout = {"description_width": "initial"}, w.Layout(width="auto")
            if f["kind"] == "number":
                c = w.Text(description=f["label"], style=style, layout=layout)
            else:
                c = w.Dropdown(options=[(t("page.quiz_choose"), "")] + [(o, o) for o in f["options"]],
                               value="", description=f["label"], style=style, layout=layout)
            self.controls[f["id"]] = c
        self.fields.children = list(self.controls.values())
        self.feedback.value = self.solution.value = ""

    def given(self) -> dict[str, str]:
        return {fid: str(c.value) for fid, c in self.controls.items()}

    def check(self, _: object = None) -> dict[str, tuple[bool, str | None]]:
        """Mark each field right or wrong, say why a wrong one is wrong, and show the whole run."""
        verdicts = check(self.v, self.given())
        items, wrong = [], 0
        for f in self.v["fields"]:
            right, mis = verdicts[f["id"]]
            given = " ".join(self.given()[f["id"]].split())
            if right:
                items.append("<li>" + escape(t("page.quiz_right", label=f["label"])) + "</li>")
                continue
            wrong += 1
            line = (t("page.quiz_wrong", label=f["label"], given=given) if given
                    else t("page.quiz_empty", label=f["label"]))
            why = self.v["misconceptions"][mis] if mis else None
            link = (f' <a href="{escape(why["href"].replace(".html", ".ipynb"))}">{escape(t("page.quiz_read"))}</a>'
                    if why else "")
            items.append(f'<li>{escape(line)} <span data-misconception="{escape(mis or "")}">'
                         f"{escape(why['text'] if why else f['hint'])}</span>{link}</li>")
        head = (t("page.quiz_some_wrong", wrong=wrong, total=len(self.v["fields"])) if wrong
                else t("page.quiz_all_right"))
        self.feedback.value = f"<p><b>{escape(head)}</b></p><ul>{''.join(items)}</ul>"
        self.solution.value = "<p><b>" + escape(t("page.quiz_solution")) + "</b></p>" + answer_html(self.v)
        return verdicts

    def another(self, _: object = None) -> None:
        self.show(self.k + 1)
