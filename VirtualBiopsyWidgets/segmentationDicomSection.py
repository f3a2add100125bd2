"""Widget glue of the Segmentation module's DICOM section (3D Slicer only): "Export to DICOM SEG…".

The button acts on the module's output segmentation and its input volume. It is enabled only when that volume
was loaded through Slicer's DICOM module (its series' files are found in Slicer's DICOM database); its tool tip
says why otherwise. How the segments were made comes from the module logic (the model that made the AI result
and the review's AI reference); when nothing tells whether an AI result was edited, the user is asked. After
writing, the panel offers to add the files to Slicer's DICOM database, so that the SEG shows with its study.
"""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

#: Attribute that Slicer's DICOM scalar volume plugin sets on a volume it loads: the series' SOP instance UIDs,
#: space-separated (Slicer's Modules/Scripted/DICOMPlugins/DICOMScalarVolumePlugin.py).
DICOM_INSTANCE_UIDS = "DICOM.instanceUIDs"


class SegmentationDicomSection:
    """The DICOM section of the Segmentation module widget ``widget``."""

    #: ``Resources/Requirements/VirtualBiopsySegmentation/<ACTION>.txt`` is ensured before the export runs.
    ACTION = "dicomExport"

    def __init__(self, widget) -> None:
        self.widget = widget
        self.ui = widget.ui

    @property
    def logic(self):
        return self.widget.logic

    def setup(self) -> None:
        """Connect the button."""
        self.ui.exportDicomButton.connect("clicked(bool)", self.onExportButton)

    def updateButtons(self, idle: bool) -> None:
        """Enable the export when idle, with a segmentation, and an input volume loaded from DICOM."""
        section = self.widget._parameterNode.segmentation if self.widget._parameterNode else None
        reason = ""
        if section is None or not section.outputSegmentation:
            reason = _("Segment the tumour first: there is no output segmentation to export.")
        else:
            _files, reason = dicomReferenceOf(section.inputVolume)
        self.ui.exportDicomButton.enabled = idle and not reason
        self.ui.exportDicomButton.toolTip = reason or _(
            "Write the segmentation as a DICOM SEG referring to the input volume's DICOM series "
            "(and, with a features table, a TID 1500 structured report)."
        )

    def onExportButton(self) -> None:
        """Ask for the output folder (and, when unknown, how the segments were made), export, offer to add the
        files to the DICOM database."""
        parameterNode = self.widget._parameterNode
        # Run as part of the action: its packages are ensured first.
        origins = self.run(
            _("Reading how the segmentation was made failed."),
            lambda progress, cancel: self.logic.segmentOriginsOf(parameterNode),
        )
        if origins is None:
            return
        algorithms = origins.algorithms if origins.known else self.askOrigin(origins)
        if algorithms is None:
            return
        folder = qt.QFileDialog.getExistingDirectory(self.widget.parent, _("Folder for the DICOM SEG"))
        if not folder:
            return
        files, reason = dicomReferenceOf(parameterNode.segmentation.inputVolume)
        if not files:
            slicer.util.errorDisplay(reason)
            return
        features = self.ui.dicomFeaturesSelector.currentNode()
        result = self.run(
            _("DICOM SEG export failed."),
            lambda progress, cancel: self.logic.exportToDicom(
                parameterNode,
                files,
                folder,
                algorithms,
                origins.modelId,
                origins.modelVersion,
                features,
                progress,
                cancel,
            ),
        )
        if result is None:
            return
        text = _("Wrote {files} ({count} segment(s)).").format(
            files=", ".join(str(path) for path in result.files), count=len(result.segments)
        )
        if result.skipped:
            text += "\n" + _("Empty segments left out: {names}.").format(names=", ".join(result.skipped))
        if slicer.util.confirmYesNoDisplay(
            text + "\n\n" + _("Add them to Slicer's DICOM database, with the study they refer to?"),
            windowTitle=_("DICOM SEG written"),
        ):
            with slicer.util.tryWithErrorDisplay(_("Adding the files to the DICOM database failed."), waitCursor=True):
                addToDicomDatabase(result.files)

    def run(self, failureMessage: str, function):
        """Ensure the :attr:`ACTION`'s requirements, then run ``function(progress, cancel)`` with the module's
        progress bar and Cancel (``None`` after an error or a cancel)."""
        return self.widget.runStage(failureMessage, self.ACTION, function)

    def askOrigin(self, origins) -> dict[str, str] | None:
        """Ask whether the AI result was edited (nothing recorded tells it); ``None`` when the user cancels."""
        box = qt.QMessageBox(self.widget.parent)
        box.setWindowTitle(_("How was this segmentation made?"))
        box.setText(
            _(
                "The segmentation came from model {model} {version}, but no review was started in this module, so "
                "edits in the Segment Editor cannot be detected. Was it edited by a person?"
            ).format(model=origins.modelId, version=origins.modelVersion)
        )
        unchanged = box.addButton(_("Unchanged AI result"), qt.QMessageBox.AcceptRole)
        edited = box.addButton(_("Edited (manual)"), qt.QMessageBox.AcceptRole)
        box.addButton(qt.QMessageBox.Cancel)
        box.exec_()
        clicked = box.clickedButton()
        if clicked == unchanged:
            return {name: "AI" for name in origins.algorithms}
        if clicked == edited:
            return {name: "manual" for name in origins.algorithms}
        return None


def dicomReferenceOf(volumeNode) -> tuple[list[str], str]:
    """The files of the DICOM series ``volumeNode`` was loaded from, found as Slicer's own DICOM plugins find them
    (its ``DICOM.instanceUIDs`` attribute, then ``slicer.dicomDatabase.fileForInstance``), and ``""``; or no
    files and why not."""
    if volumeNode is None:
        return [], _("Select the input volume the segmentation was made on.")
    uids = (volumeNode.GetAttribute(DICOM_INSTANCE_UIDS) or "").split()
    if not uids:
        return [], _(
            "Volume '{name}' was not loaded from DICOM (Slicer's DICOM module); load its series from the DICOM "
            "database and segment that volume, or use 'virtual-biopsy dicom export' with the series' folder."
        ).format(name=volumeNode.GetName())
    database = getattr(slicer, "dicomDatabase", None)
    if database is None or not database.isOpen:
        return [], _("Slicer's DICOM database is not open; open it in the DICOM module.")
    files = [database.fileForInstance(uid) for uid in uids]
    missing = sum(1 for path in files if not path)
    if missing:
        return [], _(
            "{missing} of the {count} images of volume '{name}' are no longer in the DICOM database; import the "
            "series again."
        ).format(missing=missing, count=len(uids), name=volumeNode.GetName())
    return files, ""


def addToDicomDatabase(files: list) -> None:
    """Copy ``files`` into Slicer's DICOM database (as ``DICOMUtils.importDicom`` indexes a folder; file by file
    here, so that nothing else in the folder is added) and refresh the DICOM browser."""
    import ctk
    from DICOMLib import DICOMUtils

    indexer = ctk.ctkDICOMIndexer()
    for path in files:
        indexer.addFile(slicer.dicomDatabase, str(path), True)
    indexer.waitForImportFinished()
    DICOMUtils.refreshDICOMWidget()
