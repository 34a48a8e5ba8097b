"""What a run leaves behind: the Markdown table and the PNG plots (matplotlib, imported
when plotting; the ``bench`` extra installs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["PLOTS", "markdown", "plot"]

PLOTS = ("latency_tokens.png", "speedup_by_width.png", "timeline.png")


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    """The summary, per-mode and per-width tables of one result."""
    config = result["config"]
    lines = [
        f"# Reactive vs planned: `{result['suite']}`",
        "",
        f"{result['description']}. {config['problems']} problems, LLM `{config['llm']}`, "
        f"clock {config['clock']}, {config['react_examples']} worked examples per prompt, "
        f"final-answer call {'on' if config['final_answer'] else 'off'}.",
    ]
    if config.get("latency_model"):
        model = config["latency_model"]
        lines.append(
            f"Simulated latency per call: {model['ttft_s']} s to first token + output tokens / "
            f"{model['output_tokens_per_s']} tokens/s; tokens counted with litellm's "
            f"`{config['token_model']}` tokenizer."
        )
    lines += [
        "",
        f"**Speedup** (ReAct ÷ planned latency): {_cell(result['speedup'])}× · "
        f"**token ratio** (ReAct ÷ planned LLM tokens): {_cell(result['token_ratio'])}× · "
        f"speedup over parallel function calling: {_cell(result.get('speedup_over_parallel'))}×",
        "",
        "| mode | latency s (mean) | LLM tokens (mean) | prompt | completion | LLM calls | tool calls "
        "| accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, stats in result["modes"].items():
        lines.append(
            f"| {mode} | {_cell(stats['latency_s'])} | {_cell(stats['llm_tokens'], 0)} | "
            f"{_cell(stats['prompt_tokens'], 0)} | {_cell(stats['completion_tokens'], 0)} | "
            f"{_cell(stats['llm_calls'])} | {_cell(stats['tool_calls'])} | {stats['accuracy']:.0%} |"
        )
    modes = list(result["modes"])
    for key, what in (("width", "widest dependency level"), ("depth", "number of dependency levels")):
        lines += [
            "",
            f"By parallel {key} (the {what} of the gold plan):" if key == "width" else f"By {key} ({what}):",
            "",
            f"| {key} | problems | " + " | ".join(f"{m} s" for m in modes) + " | speedup | token ratio |",
            "| ---: | ---: | " + " | ".join("---:" for _ in modes) + " | ---: | ---: |",
        ]
        for row in result[f"by_{key}"]:
            latencies = " | ".join(_cell(row["latency_s"][m]) for m in modes)
            lines.append(
                f"| {row[key]} | {row['problems']} | {latencies} | {_cell(row['speedup'])} | "
                f"{_cell(row['token_ratio'])} |"
            )
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], folder: Path) -> list[Path]:
    """Latency and tokens per mode; speedup by width; the timeline of one planned run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    modes = list(result["modes"])
    suite = result["suite"]

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(modes, [result["modes"][m]["latency_s"] for m in modes], color="#4C72B0")
    left.set_ylabel("mean latency per problem (s)")
    left.set_title(f"{suite}: latency")
    right.bar(modes, [result["modes"][m]["llm_tokens"] for m in modes], color="#DD8452")
    right.set_ylabel("mean LLM tokens per problem")
    right.set_title(f"{suite}: LLM tokens")
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=15)
    figure.tight_layout()
    written.append(_save(figure, folder / PLOTS[0], plt))

    figure, axis = plt.subplots(figsize=(6, 4))
    widths = [row["width"] for row in result["by_width"]]
    drawn = 0
    for key, label in (("speedup", "vs ReAct"), ("speedup_over_parallel", "vs parallel function calling")):
        values = [row[key] for row in result["by_width"]]
        if any(v is not None for v in values):
            axis.plot(widths, [v if v is not None else float("nan") for v in values], marker="o", label=label)
            drawn += 1
    if drawn:
        axis.legend()
    else:
        axis.text(0.5, 0.5, "needs planned and a reactive mode", ha="center", transform=axis.transAxes)
    axis.axhline(1.0, color="grey", linewidth=0.8)
    axis.set_xlabel("parallel width of the gold plan")
    axis.set_ylabel("speedup of planned mode (×)")
    axis.set_xticks(widths)
    axis.set_title(f"{suite}: speedup by width")
    figure.tight_layout()
    written.append(_save(figure, folder / PLOTS[1], plt))

    timeline = result.get("timeline")
    if timeline:
        spans = timeline["spans"]
        lanes = list(dict.fromkeys(s["lane"] for s in spans))
        figure, axis = plt.subplots(figsize=(9, 0.4 * len(lanes) + 1.5))
        for span in spans:
            axis.barh(
                lanes.index(span["lane"]),
                span["end_s"] - span["start_s"],
                left=span["start_s"],
                color="#55A868" if span["kind"] == "tool" else "#C44E52",
            )
        axis.set_yticks(range(len(lanes)), lanes)
        axis.invert_yaxis()
        axis.set_xlabel("seconds since the question")
        axis.set_title(f"{suite}: planned run of {timeline['problem']} (width {timeline['width']})")
        figure.tight_layout()
        written.append(_save(figure, folder / PLOTS[2], plt))
    return written


def _save(figure: Any, path: Path, plt: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the file, so an unchanged result gives an unchanged PNG.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path
