"""The example alert rules in docs/ are valid for Prometheus (its own promtool) and name
only metrics Mailward exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from mailward.ops import metrics
from tests.support import skip_or_fail

RULES = Path(__file__).parents[2] / "docs" / "prometheus-alerts.yml"


def test_promtool_accepts_the_example_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail("promtool is not installed (Debian package prometheus)")
        return
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_use_metrics_mailward_exports() -> None:
    source = Path(metrics.__file__).read_text()
    for name in set(re.findall(r"mailward_[a-z_]+", RULES.read_text())):
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert f'"{base}"' in source, name
