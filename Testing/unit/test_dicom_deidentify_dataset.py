"""De-identification of single datasets: the profile table, options, keyed pseudonyms, dates, private tags,
burned-in checks, references in sequences (pydicom's RTSTRUCT) and the key file."""

from __future__ import annotations

import copy
import io
import os
import pathlib
import re

import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402

from VirtualBiopsy.dicom.deidentify.dataset import burnedInReason, cleanText, deidentifyDataset  # noqa: E402
from VirtualBiopsy.dicom.deidentify.dates import shiftDate, shiftDateTime  # noqa: E402
from VirtualBiopsy.dicom.deidentify.folder import deidentifyFolder  # noqa: E402
from VirtualBiopsy.dicom.deidentify.instance import readInput  # noqa: E402
from VirtualBiopsy.dicom.deidentify.keyFile import makeKey, readKey  # noqa: E402
from VirtualBiopsy.dicom.deidentify.profile import BASIC_PROFILE, ProfileOptions, resolvedAction  # noqa: E402
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402

KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"fedcba9876543210fedcba9876543210"


def _mr(**attributes) -> Dataset:
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


class TestProfileTable:
    def test_table_has_every_attribute_of_table_e1_1_with_its_basic_action(self):
        assert len(BASIC_PROFILE) == 614
        expected = {
            "PatientName": "Z", "PatientID": "Z/D", "PatientBirthDate": "Z", "AccessionNumber": "Z",
            "OtherPatientIDs": "X", "PatientAddress": "X", "StudyInstanceUID": "U", "ReferencedSOPInstanceUID": "U",
            "SeriesDescription": "X", "ProtocolName": "X/D", "InstitutionName": "X/Z/D", "SeriesDate": "X/D",
            "AcquisitionDate": "X/Z", "ContentSequence": "D", "SourceImageSequence": "X/Z/U*",
        }  # fmt: skip
        assert {keyword: BASIC_PROFILE[keyword] for keyword in expected} == expected

    def test_compound_actions_resolve_and_options_override(self):
        basic, options = ProfileOptions(), ProfileOptions(retainPatientCharacteristics=True, cleanDescriptors=True)
        assert [resolvedAction(k, basic) for k in ("AcquisitionDate", "ProtocolName", "PatientID", "StationName")] == [
            "Z", "D", "Z", "Z"
        ]  # fmt: skip
        assert resolvedAction("ReferencedImageSequence", basic) == "U*"
        assert resolvedAction("PatientSex", basic) == "Z" and resolvedAction("PatientSex", options) == "K"
        assert resolvedAction("SeriesDescription", basic) == "X" and resolvedAction("SeriesDescription", options) == "C"
        assert resolvedAction("Manufacturer", basic) is None


class TestPseudonyms:
    def test_formats_are_fixed_and_depend_on_the_key_only(self):
        first, again, other = Pseudonyms(KEY), Pseudonyms(KEY), Pseudonyms(OTHER_KEY)
        patient = first.patient("NHS-943-476-5919")
        assert re.fullmatch(r"VB-[A-Z2-7]{16}", patient)
        assert patient == again.patient("NHS-943-476-5919") != other.patient("NHS-943-476-5919")
        uid = first.uid("1.2.3.4")
        assert re.fullmatch(r"2\.25\.[1-9][0-9]*", uid) and len(uid) <= 64
        assert uid == again.uid("1.2.3.4") != other.uid("1.2.3.4") and uid != first.uid("1.2.3.5")

    def test_day_shifts_lie_in_the_range(self):
        shifts = {Pseudonyms(KEY).dayShift(f"patient{n}") for n in range(300)}
        assert min(shifts) >= -365 and max(shifts) <= -30 and len(shifts) > 100

    def test_dates_shift_by_whole_days_and_times_stay(self):
        assert shiftDate("20240301", -1) == "20240229"
        assert shiftDate("2024.03.01", -30) == "20240131"
        assert shiftDate("2024", -3) == "" and shiftDate("20241301", -3) == ""
        assert shiftDateTime("20240101093000.5+0100", -1) == "20231231093000.5+0100"


class TestDataset:
    def test_identifiers_uids_and_marks(self):
        dataset = _mr(AccessionNumber="ACC-7731", PatientBirthDate="19230101", PatientName="DOE^JANE", PatientID="P7")
        original = dataset.SOPInstanceUID
        pixels = bytes(dataset.PixelData)
        changes = deidentifyDataset(dataset, Pseudonyms(KEY), ProfileOptions())
        pseudonym = Pseudonyms(KEY).patient("P7")
        assert dataset.PatientID == pseudonym and str(dataset.PatientName) == f"{pseudonym}^"
        assert dataset.AccessionNumber == "" and dataset.PatientBirthDate == "" and dataset.StudyDate == ""
        assert dataset.SOPInstanceUID == Pseudonyms(KEY).uid(original) == dataset.file_meta.MediaStorageSOPInstanceUID
        assert dataset.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
        assert dataset.PatientIdentityRemoved == "YES" and dataset.LongitudinalTemporalInformationModified == "REMOVED"
        assert [item.CodeValue for item in dataset.DeidentificationMethodCodeSequence] == ["113100"]
        assert bytes(dataset.PixelData) == pixels
        assert ("U", "SOPInstanceUID", "(0008,0018)") in changes and ("Z", "AccessionNumber", "(0008,0050)") in changes

    def test_options_keep_characteristics_clean_descriptors_and_shift_dates(self):
        dataset = _mr(PatientName="DOE^JANE", PatientID="NHS-1", PatientSex="F", PatientAge="041Y",
                      SeriesDescription="T1 DOE post NHS-1 gad", StudyDate="20240115", StudyTime="093000")  # fmt: skip
        options = ProfileOptions(retainDates="shift", retainPatientCharacteristics=True, cleanDescriptors=True)
        deidentifyDataset(dataset, Pseudonyms(KEY), options)
        shift = Pseudonyms(KEY).dayShift("NHS-1")
        assert dataset.StudyDate == shiftDate("20240115", shift) and dataset.StudyTime == "093000"
        assert dataset.PatientSex == "F" and dataset.PatientAge == "041Y"
        assert dataset.SeriesDescription == "T1 post gad"
        assert dataset.LongitudinalTemporalInformationModified == "MODIFIED"
        codes = [item.CodeValue for item in dataset.DeidentificationMethodCodeSequence]
        assert codes == ["113100", "113105", "113107", "113108"]

    def test_clean_text_removes_identifier_words_only(self):
        assert cleanText("AX T1 DOE_JANE 19230101 post", {"DOE", "JANE", "19230101"}) == "AX T1 post"

    def test_private_tags_removed_except_the_safe_list(self):
        dataset = _mr()
        dataset.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", "1000")
        dataset.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", b"secret")
        plain, safe = copy.deepcopy(dataset), copy.deepcopy(dataset)
        deidentifyDataset(plain, Pseudonyms(KEY), ProfileOptions())
        deidentifyDataset(safe, Pseudonyms(KEY), ProfileOptions(safePrivate=True))
        assert not any(element.tag.is_private for element in plain)
        kept = sorted(f"{element.tag.group:04X}{element.tag.element:04X}" for element in safe if element.tag.is_private)
        assert kept == ["00190010", "0019100C"]

    def test_burned_in_reasons(self):
        assert burnedInReason(_mr(BurnedInAnnotation="YES")).startswith("BurnedInAnnotation")
        assert "SECONDARY" in burnedInReason(_mr(ImageType=["DERIVED", "SECONDARY"]))
        assert "Secondary Capture" in burnedInReason(
            _mr(SOPClassUID="1.2.840.10008.5.1.4.1.1.7", ImageType=["ORIGINAL", "PRIMARY"])
        )
        assert burnedInReason(_mr(ImageType=["ORIGINAL", "PRIMARY"])) is None

    def test_rtstruct_references_map_like_the_images_uids(self):
        """Every UID of pydicom's RTSTRUCT (no Part 10 preamble) in sequences becomes the keyed UID of the original."""
        path = get_testdata_file("rtstruct.dcm")
        dataset, problem = readInput(pathlib.Path(path))
        assert problem == ("", "")
        before = _uids(dataset)
        beforeSop = str(dataset.SOPInstanceUID)
        deidentifyDataset(dataset, Pseudonyms(KEY), ProfileOptions())
        after = _uids(dataset)
        mapping = Pseudonyms(KEY)
        assert [(k, v if v.startswith("1.2.840.10008.") else mapping.uid(v)) for k, v in before] == after
        assert {k for k, _ in before} >= {"ReferencedSOPInstanceUID", "ReferencedFrameOfReferenceUID"}
        assert str(dataset.PatientName) == mapping.patient("tPhantom30sep") + "^"
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        assert pydicom.dcmread(io.BytesIO(buffer.getvalue())).SOPInstanceUID == mapping.uid(beforeSop)

    def test_rtstruct_and_its_images_keep_pointing_at_each_other_after_a_folder_run(self, tmp_path):
        """pydicom's RTSTRUCT and an image of the series it references, de-identified together: the structure set's
        frame of reference, study, series and contour image references are the image's new UIDs."""
        structure = pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True)
        frame = structure.ReferencedFrameOfReferenceSequence[0]
        study = frame.RTReferencedStudySequence[0]
        series = study.RTReferencedSeriesSequence[0]
        image = _mr(ImageType=["ORIGINAL", "PRIMARY"], FrameOfReferenceUID=frame.FrameOfReferenceUID,
                    StudyInstanceUID=study.ReferencedSOPInstanceUID, SeriesInstanceUID=series.SeriesInstanceUID)  # fmt: skip
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = image.SOPClassUID, image.SOPInstanceUID
        series.ContourImageSequence = [reference]
        (tmp_path / "in").mkdir()
        structure.save_as(tmp_path / "in" / "rs.dcm")  # as pydicom ships it: no preamble, implicit VR
        image.save_as(tmp_path / "in" / "mr.dcm")
        result = deidentifyFolder(tmp_path / "in", tmp_path / "out", KEY, ProfileOptions(), workers=1)
        assert [outcome.status for outcome in result.outcomes] == ["written", "written"]
        outputs = {outcome.relative: pydicom.dcmread(tmp_path / "out" / outcome.output) for outcome in result.outcomes}
        mr, rs = outputs["mr.dcm"], outputs["rs.dcm"]
        frame = rs.ReferencedFrameOfReferenceSequence[0]
        study = frame.RTReferencedStudySequence[0]
        series = study.RTReferencedSeriesSequence[0]
        assert frame.FrameOfReferenceUID == mr.FrameOfReferenceUID != image.FrameOfReferenceUID
        assert (study.ReferencedSOPInstanceUID, series.SeriesInstanceUID) == (mr.StudyInstanceUID, mr.SeriesInstanceUID)
        assert series.ContourImageSequence[0].ReferencedSOPInstanceUID == mr.SOPInstanceUID
        assert rs.ROIContourSequence[0].ReferencedROINumber == structure.ROIContourSequence[0].ReferencedROINumber

    def test_sr_free_text_is_replaced_or_cleaned(self):
        item = Dataset()
        item.ValueType, item.TextValue = "TEXT", "Seen by Dr Smith for DOE JANE"
        plain = _mr(PatientName="DOE^JANE", ContentSequence=[item])
        cleaned = copy.deepcopy(plain)
        deidentifyDataset(plain, Pseudonyms(KEY), ProfileOptions())
        deidentifyDataset(cleaned, Pseudonyms(KEY), ProfileOptions(cleanDescriptors=True))
        assert plain.ContentSequence[0].TextValue == "ANONYMIZED"
        assert cleaned.ContentSequence[0].TextValue == "Seen by Dr Smith for"

    @pytest.mark.parametrize(
        "name",
        ["MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm", "CT_small.dcm"],
    )
    def test_compressed_and_multiframe_pixel_bytes_kept(self, name):
        dataset = pydicom.dcmread(get_testdata_file(name))
        pixels = bytes(dataset.PixelData)
        deidentifyDataset(dataset, Pseudonyms(KEY), ProfileOptions())
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        written = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
        assert bytes(written.PixelData) == pixels
        assert written.file_meta.TransferSyntaxUID == dataset.file_meta.TransferSyntaxUID
        assert not any(element.tag.is_private for element in written.iterall())


def _uids(dataset) -> list[tuple[str, str]]:
    found = []
    for element in dataset.iterall():
        if element.VR == "UI" and element.value and not element.keyword.endswith("ClassUID"):
            found.append((element.keyword, str(element.value)))
    return found


class TestKeyFile:
    def test_made_key_is_private_and_long(self, tmp_path):
        path = makeKey(tmp_path / "key")
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert len(readKey(path)) == 64
        with pytest.raises(InputError, match="never overwritten"):
            makeKey(path)

    def test_refused_keys(self, tmp_path):
        with pytest.raises(InputError, match="does not exist"):
            readKey(tmp_path / "absent")
        short = tmp_path / "short"
        short.write_text("tooshort")
        short.chmod(0o600)
        with pytest.raises(InputError, match="holds 8 bytes; a key needs at least 32"):
            readKey(short)
        shared = makeKey(tmp_path / "shared")
        shared.chmod(0o644)
        with pytest.raises(InputError, match=f"mode 0644.*chmod 600 {re.escape(str(shared))}"):
            readKey(shared)
