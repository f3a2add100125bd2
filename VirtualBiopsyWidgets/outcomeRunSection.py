"""Widget glue of the Outcome module's Cohort run section (3D Slicer only): ``virtual-biopsy run`` over a cohort
in a background PythonSlicer process, its progress read from ``DIR/events.jsonl`` on a timer, Cancel that stops
the whole process tree (the run resumes later with Resume), and the report, failures and patients' scenes of
the run. The Qt-free parts are :mod:`VirtualBiopsy.cohort.runRequest` and :mod:`VirtualBiopsy.cohort.runEvents`.
"""

from __future__ import annotations

import datetime
import logging
import pathlib

import ctk
import qt
import slicer
from slicer.i18n import tr as _

from VirtualBiopsy.cohort.runEvents import EVENTS_FILE, EventsFollower, finishedScenes, readFailures, reportPath
from VirtualBiopsy.cohort.runProcess import CohortRunProcess
from VirtualBiopsyWidgets.outcomeSections import OutcomeSection, enableButton
from VirtualBiopsyWidgets.requirements import ensureActionRequirements

logger = logging.getLogger(__name__)

#: How often the running process and its events file are read.
POLL_MILLISECONDS = 1000
#: Exit statuses of ``virtual-biopsy run``: finished, bad input, stopped by Ctrl-C (docs/cohort-run.md).
EXIT_DONE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130
#: Characters of the process output shown after a failure.
OUTPUT_TAIL = 4000


class CohortRunSection(OutcomeSection):
    """Cohort run: check and run the pipeline over a cohort manifest, then open its report and scenes."""

    ACTION = "cohortRun"

    def setup(self) -> None:
        import VirtualBiopsyWidgets.pathConnector  # noqa: F401 - binds the path fields before connectGui

        self._process: CohortRunProcess | None = None
        self._events: EventsFollower | None = None
        self._checking = False
        self._outDir = ""
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_MILLISECONDS)
        self._timer.connect("timeout()", self._onPoll)
        for lineEdit in (self.ui.runManifestPathLineEdit, self.ui.runClinicalPathLineEdit):
            lineEdit.filters = ctk.ctkPathLineEdit.Files
            lineEdit.nameFilters = ["*.csv"]
        self.ui.runConfigPathLineEdit.filters = ctk.ctkPathLineEdit.Files
        self.ui.runConfigPathLineEdit.nameFilters = ["*.yaml", "*.yml"]
        self.ui.runOutDirPathLineEdit.filters = ctk.ctkPathLineEdit.Dirs
        self.ui.runFailuresTable.setHorizontalHeaderLabels([_("Patient"), _("Stage"), _("Error")])
        self.ui.runCheckButton.connect("clicked(bool)", self.onCheck)
        self.ui.runStartButton.connect("clicked(bool)", self.onRun)
        self.ui.runCancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.runOpenReportButton.connect("clicked(bool)", self.onOpenReport)
        self.ui.runLoadSceneButton.connect("clicked(bool)", self.onLoadScene)
        self.ui.runPatientComboBox.connect("currentIndexChanged(int)", lambda index: self.widget.updateButtons())

    @property
    def running(self) -> bool:
        """Whether a run or a check is under way."""
        return self._process is not None

    def cleanup(self) -> None:
        """Stop a run still going when the module closes (it resumes later with Resume)."""
        self._timer.stop()
        if self._process is not None:
            self._process.close()
            self._process = None

    def updateGui(self) -> None:
        usesFile = bool(self.parameterNode.cohortRun.configFile.strip())
        self.ui.runPresetComboBox.enabled = not usesFile
        self.ui.runPresetComboBox.toolTip = (
            _("Not used: the pipeline settings file replaces the preset (clear it to use a preset)")
            if usesFile
            else _("Shipped pipeline settings (demo, brain MR or CT)")
        )
        if self.parameterNode.cohortRun.outDir != self._outDir and not self.running:
            self._outDir, self._events = self.parameterNode.cohortRun.outDir, None
            self._showResults()

    def updateButtons(self, idle: bool) -> None:
        run = self.parameterNode.cohortRun
        ready = idle and not self.running and bool(run.manifest.strip() and run.outDir.strip())
        missing = _("Choose a manifest and a run folder") if not self.running else _("A run is under way")
        enableButton(self.ui.runCheckButton, ready, _("Check the manifest, its files and the settings"), missing)
        enableButton(self.ui.runStartButton, ready, _("Run the pipeline over the cohort in the background"), missing)
        self.ui.runCancelButton.enabled = self.running and not self._process.stopping
        enableButton(
            self.ui.runOpenReportButton,
            bool(self._outDir) and reportPath(self._outDir).is_file(),
            _("Open the run's HTML report in the web browser"),
            _("The run has written no report yet"),
        )
        enableButton(
            self.ui.runLoadSceneButton,
            idle and self.ui.runPatientComboBox.count > 0,
            _("Add the patient's scene (images, segmentation, features) to the scene"),
            _("No patient of the run has finished yet"),
        )

    def onCheck(self) -> None:
        """``run --check``: list every problem of the manifest, its files, the clinical table and the settings."""
        self._start(check=True)

    def onRun(self) -> None:
        """Start the run in the background; progress comes from its events file."""
        self._start(check=False)

    def _start(self, check: bool) -> None:
        try:
            with slicer.util.tryWithErrorDisplay(_("Could not start the cohort run."), waitCursor=True):
                ensureActionRequirements(
                    self.widget.actionRequirementsPath(self.ACTION), requester=self.widget.moduleName
                )
                outDir = self.parameterNode.cohortRun.outDir
                events = None if check else EventsFollower(pathlib.Path(outDir) / EVENTS_FILE, fromEnd=True)
                self._process = self.logic.startCohortRun(self.parameterNode, check=check)
                self._outDir, self._events = outDir, events
        except Exception:  # noqa: BLE001 - shown in the dialog above; the panel stays usable
            logger.exception("Could not start the cohort run")
            return
        self._checking = check
        self.ui.runOutputText.setPlainText("")
        self.ui.runStagesLabel.text = "-"
        self.ui.runStatusLabel.text = _("Checking...") if check else _("Starting...")
        self.ui.runProgressBar.value = 0
        self.ui.runProgressBar.format = _("Checking...") if check else _("Starting...")
        self._timer.start()
        self.widget.updateButtons()

    def onCancel(self) -> None:
        """Stop the run and every process it started (finished stages are kept; resume later with Resume)."""
        if self._process is not None:
            self._process.stop()
            self.ui.runStatusLabel.text = _("Cancelling...")
            self.widget.updateButtons()

    def _onPoll(self) -> None:
        process = self._process
        if process is None:
            self._timer.stop()
            return
        if self._events is not None:
            self._showProgress(self._events.update())
        status = process.poll()
        if status is None:
            return
        self._timer.stop()
        output = process.output()
        process.close()
        self._process = None
        if self._checking:
            self._showCheck(status, output)
        else:
            if self._events is not None:
                self._showProgress(self._events.update())
            self._showEnd(status, output, process.stopping)
        self._showResults()
        self.widget.updateButtons()

    def _showProgress(self, progress) -> None:
        self.ui.runProgressBar.value = int(round(100 * progress.fraction))
        text = progress.summary(datetime.datetime.now(datetime.timezone.utc))
        self.ui.runProgressBar.format = text.replace("%", "%%")
        self.ui.runStagesLabel.text = progress.stageText() or "-"
        if progress.running:
            self.ui.runStatusLabel.text = _("Working on: {cases}").format(cases=", ".join(progress.running))
        if progress.failures:
            self._fillFailures([{"patient": c, "stage": s, "error": e} for c, s, e in progress.failures])

    def _showCheck(self, status: int, output: str) -> None:
        self.ui.runProgressBar.value = 100 if status == EXIT_DONE else 0
        self.ui.runProgressBar.format = _("Checked")
        self.ui.runStatusLabel.text = {
            EXIT_DONE: _("Ready to run (warnings, if any, below)."),
            EXIT_BAD_INPUT: _("Problems stop the run: fix them and check again."),
        }.get(status, _("The check failed (exit status {status}).").format(status=status))
        self.ui.runOutputText.setPlainText(output.strip() or _("No problem found."))

    def _showEnd(self, status: int, output: str, cancelled: bool) -> None:
        if cancelled or status == EXIT_INTERRUPTED:
            message = _("Cancelled. Finished stages are kept: check Resume and Run to continue.")
        elif status == EXIT_DONE:
            message = _("Finished.")
        elif status == EXIT_BAD_INPUT:
            message = _("The run refused its input: run Check to list the problems.")
        else:
            message = _("The run failed (exit status {status}).").format(status=status)
        self.ui.runStatusLabel.text = message
        if status != EXIT_DONE:
            self.ui.runOutputText.setPlainText(output[-OUTPUT_TAIL:].strip())

    def _showResults(self) -> None:
        """The run folder's failures and finished patients (what an earlier run left is shown too)."""
        outDir = self._outDir
        failures = readFailures(outDir) if outDir else []
        if not failures and self._events is not None:  # a cancelled run writes no failures.csv
            failures = [{"patient": c, "stage": s, "error": e} for c, s, e in self._events.progress.failures]
        self._fillFailures(failures)
        current = self.ui.runPatientComboBox.currentText
        self.ui.runPatientComboBox.clear()
        if outDir:
            self.ui.runPatientComboBox.addItems(list(finishedScenes(outDir)))
        index = self.ui.runPatientComboBox.findText(current)
        if index >= 0:
            self.ui.runPatientComboBox.currentIndex = index

    def _fillFailures(self, failures: list[dict[str, str]]) -> None:
        table = self.ui.runFailuresTable
        table.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            for column, key in enumerate(("patient", "stage", "error")):
                item = qt.QTableWidgetItem(failure[key])
                item.setToolTip(failure[key])
                table.setItem(row, column, item)

    def onOpenReport(self) -> None:
        """Open ``DIR/report/index.html`` in the web browser."""
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(reportPath(self._outDir).resolve())))

    def onLoadScene(self) -> None:
        """Add the chosen patient's scene (``cases/<patient>/<patient>.mrb``) to the current scene."""
        scenes = finishedScenes(self._outDir)
        patient = self.ui.runPatientComboBox.currentText
        if patient not in scenes:
            return
        try:
            with slicer.util.tryWithErrorDisplay(_("Could not load the patient's scene."), waitCursor=True):
                slicer.util.loadScene(str(scenes[patient]))
        except Exception:  # noqa: BLE001 - shown in the dialog above; the panel stays usable
            logger.exception("Could not load the scene of %s", patient)
