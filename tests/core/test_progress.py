"""parse_progress: the last tqdm line of the logs gives percentage (0..1), current, total."""

from __future__ import annotations

from dashscope_core import Prediction, Progress, parse_progress

LOGS = "\n".join(
    [
        "Using seed: 12345",
        "  0%|          | 0/5 [00:00<?, ?it/s]",
        " 20%|██        | 1/5 [00:00<00:01, 21.38it/s]",
        " 40%|████      | 2/5 [00:01<00:01, 2.00it/s]",
        "saving image",
    ]
)


def test_last_tqdm_line_wins() -> None:
    assert parse_progress(LOGS) == Progress(0.4, 2, 5)


def test_carriage_return_updates() -> None:
    logs = "start\n  0%|  | 0/10\r 50%|█ | 5/10\r100%|██| 10/10 [00:02<00:00]"
    assert parse_progress(logs) == Progress(1.0, 10, 10)


def test_prediction_and_dict_inputs() -> None:
    assert parse_progress(Prediction(id="p", logs=LOGS)) == Progress(0.4, 2, 5)
    assert parse_progress({"logs": LOGS}) == Progress(0.4, 2, 5)


def test_no_progress() -> None:
    assert parse_progress("") is None
    assert parse_progress("hello\nworld") is None
    assert parse_progress(Prediction(id="p")) is None
    assert parse_progress(None) is None
