"""``junit.xml``: one test case per gate, so CI systems show gates as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.report.result import RunResult

__all__ = ["junit_xml"]


def junit_xml(result: RunResult) -> str:
    """A JUnit XML document with one ``testcase`` per gate (failures carry value and threshold)."""
    name = result.facts.scenario
    failures = sum(1 for g in result.gates if not g.passed)
    suites = ET.Element("testsuites", name="harness", tests=str(len(result.gates)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=name,
        tests=str(len(result.gates)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{result.facts.wall_s:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("seed", result.facts.seed), ("mode", result.facts.mode), ("client", result.client)):
        ET.SubElement(props, "property", name=key, value=str(value))
    for gate in result.gates:
        case = ET.SubElement(suite, "testcase", classname=f"harness.{name}", name=gate.name, time="0")
        if not gate.passed:
            failure = ET.SubElement(case, "failure", message=gate.describe(), type="GateFailed")
            failure.text = gate.describe()
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
