"""The attributes of the DICOM Basic Application Level Confidentiality Profile and its options, as data.

Source: DICOM PS3.15 2024b, Annex E, Table E.1-1 "Application Level Confidentiality Profile Attributes", column
"Basic Prof." (https://dicom.nema.org/medical/dicom/2024b/output/chtml/part15/chapter_E.html#table_E.1-1); the
tag list was cross-checked against the transcription in KitwareMedical/dicom-anonymizer
(``dicomanonymizer/dicom_anonymization_databases/dicomfields_2024b.py``, commit 724c1e2) and turned into keywords
with pydicom's data dictionary. No code was taken from it. Actions: ``D`` a dummy value of the VR, ``Z`` zero
length, ``X`` removed, ``K`` kept, ``C`` cleaned, ``U`` a keyed pseudonymous UID; compound actions (``X/Z``,
``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) are resolved by :func:`resolvedAction`. Attributes the table does not name
are kept (K), except the repeating groups :data:`REPEATING_REMOVED` (curves, overlays), private attributes and
the dates and UIDs that :mod:`.dataset` treats by VR.

The option columns supported here (the standard's columns list more attributes; these are the ones this
implementation retains or cleans, documented in ``docs/dicom-deidentify.md``):
:data:`PATIENT_CHARACTERISTICS` (Retain Patient Characteristics Option, K), :data:`CLEAN_DESCRIPTORS` (Clean
Descriptors Option, C), every DA/DT attribute except :data:`NEVER_SHIFTED` (Retain Longitudinal Temporal
Information with Modified Dates Option, C: shifted by whole days) and :data:`SAFE_PRIVATE` (Retain Safe Private
Option).
"""

from __future__ import annotations

import dataclasses

#: Table E.1-1's basic-profile action of each attribute, by action (keywords of pydicom's dictionary).
BASIC_PROFILE_BY_ACTION: dict[str, list[str]] = {
    "D": """
    AcquisitionFieldOfViewLabel AnnotationGroupLabel AnnotationGroupUID AssertionDateTime AttributeModificationDateTime
    BeamHoldTransitionDateTime CertificateOfSigner ClinicalTrialProtocolEthicsCommitteeName ClinicalTrialProtocolID
    ClinicalTrialSponsorName ClinicalTrialSubjectID ClinicalTrialSubjectReadingID ContainerIdentifier ContentSequence
    ContextGroupLocalVersion ContextGroupVersion Date DateTime DecayCorrectionDateTime DestinationAE DeviceLabel
    DigitalSignatureDateTime EffectiveDateTime EncapsulatedDocument EntityLabel EntityLongLabel ExclusionStartDateTime
    FlowIdentifier FlowIdentifierSequence FrameAcquisitionDateTime FrameOriginTimestamp FrameReferenceDateTime
    FunctionalSyncPulse GraphicAnnotationSequence HangingProtocolCreationDateTime ImpedanceMeasurementDateTime
    InformationIssueDateTime InterlockDateTime InterlockDescription InterlockOriginDescription ModifyingSystem
    OverrideDateTime PersonIdentificationCodeSequence PersonName RTPlanLabel RTPrescriptionLabel RTToleranceSetLabel
    RadiationDoseIdentificationLabel RadiationDoseInVivoMeasurementLabel RadiationGenerationModeLabel
    ReasonForTheAttributeModification RecordedRTControlPointDateTime ReferencedDateTime SafePositionExitDate
    SafePositionExitTime SafePositionReturnDate SafePositionReturnTime SelectorAEValue SelectorASValue SelectorDAValue
    SelectorDTValue SelectorLOValue SelectorLTValue SelectorOBValue SelectorPNValue SelectorSHValue SelectorSTValue
    SelectorTMValue SelectorUNValue SelectorURValue SelectorUTValue SourceEndDateTime SourceIdentifier
    SourceStartDateTime SourceStrengthReferenceDate SourceStrengthReferenceTime SpecimenIdentifier StructureSetLabel
    Time TreatmentControlPointDate TreatmentControlPointTime TreatmentPositionGroupLabel
    TreatmentToleranceViolationDateTime TreatmentToleranceViolationDescription UserContentLabel UserContentLongLabel
    VerificationDateTime VerifyingObserverName VerifyingObserverSequence VerifyingOrganization XRayDetectorID
    XRaySourceID
""".split(),
    "Z": """
    AccessionNumber CalibrationDateTime ClinicalTrialCoordinatingCenterName ClinicalTrialProtocolName
    ClinicalTrialSiteID ClinicalTrialSiteName ClinicalTrialTimePointID ConceptualVolumeCombinationDescription
    ConceptualVolumeDescription ConsultingPhysicianName DeviceAlternateIdentifier FillerOrderNumberImagingServiceRequest
    FractionationNotes IssuerOfTheContainerIdentifierSequence IssuerOfTheSpecimenIdentifierSequence
    ManufacturerDeviceIdentifier ParticipationDateTime PatientBirthDate PatientName PatientSex
    PlacerOrderNumberImagingServiceRequest PrescriptionNotes PrescriptionNotesSequence ROIInterpreter ROIName
    RTAccessoryDeviceSlotID RTAccessoryHolderSlotID RTPhysicianIntentNarrative RadiationGenerationModeDescription
    ReasonForSuperseding ReferringPhysicianName ReviewDate ReviewTime SourceOfPreviousValues SpecimenPreparationSequence
    StructureSetDate StructureSetTime StudyDate StudyID StudyTime TreatmentTechniqueNotes
    VerifyingObserverIdentificationCodeSequence
""".split(),
    "X": """
    AcquisitionComments AcquisitionProtocolDescription ActualHumanPerformersSequence AdditionalPatientHistory
    AddressTrial AdmissionID AdmittingDate AdmittingDiagnosesCodeSequence AdmittingDiagnosesDescription AdmittingTime
    Allergies AnnotationGroupDescription ApprovalStatusDateTime Arbitrary AssertionExpirationDateTime
    AuthorObserverSequence BeamDescription BolusDescription BranchOfService CalibrationDate CalibrationTime
    CameraOwnerName CassetteID CertifiedTimestamp ClinicalTrialProtocolEthicsCommitteeApprovalNumber
    ClinicalTrialSeriesDescription ClinicalTrialSeriesID ClinicalTrialTimePointDescription CommentsOnRadiationDose
    CommentsOnThePerformedProcedureStep CompensatorDescription ConfidentialityConstraintOnPatientDataDescription
    ConsultingPhysicianIdentificationSequence ContainerComponentID ContainerDescription
    ContentCreatorIdentificationCodeSequence ContrastBolusStartTime ContrastBolusStopTime ContributionDateTime
    ContributionDescription CountryOfResidence CreationDate CreationTime CurrentObserverTrial CurrentPatientLocation
    CurveDate CurveTime CustodialOrganizationSequence DataSetTrailingPadding DateOfDocumentOrVerbalTransactionTrial
    DateOfInstallation DateOfLastCalibration DateOfManufacture DateOfSecondaryCapture DateTimeOfLastCalibration
    DecompositionDescription DerivationDescription DeviceDescription DeviceSettingDescription DigitalSignaturesSequence
    DischargeDate DischargeDiagnosisDescription DischargeTime DisplacementReferenceLabel DistributionAddress
    DistributionName DoseReferenceDescription EntityDescription EntityName EquipmentFrameOfReferenceDescription
    EthicsCommitteeApprovalEffectivenessEndDate EthicsCommitteeApprovalEffectivenessStartDate EthnicGroup
    ExpectedCompletionDateTime FilterLookupTableDescription FindingsGroupRecordingDateTrial
    FindingsGroupRecordingTimeTrial FixationDeviceDescription FractionGroupDescription FrameComments GPSAltitude
    GPSAltitudeRef GPSAreaInformation GPSDOP GPSDateStamp GPSDestBearing GPSDestBearingRef GPSDestDistance
    GPSDestDistanceRef GPSDestLatitude GPSDestLatitudeRef GPSDestLongitude GPSDestLongitudeRef GPSDifferential
    GPSImgDirection GPSImgDirectionRef GPSLatitude GPSLatitudeRef GPSLongitude GPSLongitudeRef GPSMapDatum
    GPSMeasureMode GPSProcessingMethod GPSSatellites GPSSpeed GPSSpeedRef GPSStatus GPSTimeStamp GPSTrack GPSTrackRef
    GPSVersionID GantryID GeneratorID HL7DocumentEffectiveTime HumanPerformerName HumanPerformerOrganization
    IconImageSequence IdentifyingComments ImageComments ImagePresentationComments ImagingServiceRequestComments
    Impressions InstanceCoercionDateTime InstanceOriginStatus InstitutionAddress InstitutionalDepartmentName
    InstitutionalDepartmentTypeCodeSequence InsurancePlanIdentification IntendedFractionStartTime
    IntendedRecipientsOfResultsIdentificationSequence InterpretationApprovalDate InterpretationApprovalTime
    InterpretationApproverSequence InterpretationAuthor InterpretationDiagnosisDescription InterpretationID
    InterpretationIDIssuer InterpretationRecordedDate InterpretationRecordedTime InterpretationRecorder
    InterpretationText InterpretationTranscriber InterpretationTranscriptionDate InterpretationTranscriptionTime
    InterventionDrugStartTime InterventionDrugStopTime IssueDateOfImagingServiceRequest IssueTimeOfImagingServiceRequest
    IssuerOfAdmissionID IssuerOfAdmissionIDSequence IssuerOfClinicalTrialProtocolID IssuerOfClinicalTrialSeriesID
    IssuerOfClinicalTrialSiteID IssuerOfClinicalTrialSubjectID IssuerOfClinicalTrialSubjectReadingID
    IssuerOfClinicalTrialTimePointID IssuerOfPatientID IssuerOfServiceEpisodeID IssuerOfServiceEpisodeIDSequence
    LastMenstrualDate LensMake LensModel LensSerialNumber LensSpecification LongDeviceDescription MAC MakerNote
    MedicalAlerts MedicalRecordLocator MilitaryRank ModifiedAttributesSequence ModifiedImageDate
    ModifiedImageDescription ModifiedImageTime ModifyingDeviceID MultienergyAcquisitionDescription
    NameOfPhysiciansReadingStudy NamesOfIntendedRecipientsOfResults NetworkID NonconformingDataElementValue
    NonconformingModifiedAttributesSequence ObservationDateTrial ObservationStartDateTime ObservationTimeTrial
    Occupation OrderCallbackPhoneNumber OrderCallbackTelecomInformation OrderEnteredBy OrderEntererLocation
    OriginalAttributesSequence Originator OtherClinicalTrialProtocolIDsSequence OtherPatientIDs OtherPatientIDsSequence
    OtherPatientNames OverlayDate OverlayTime ParticipantSequence PatientAddress PatientAge PatientBirthName
    PatientBirthTime PatientComments PatientInstitutionResidence PatientInsurancePlanCodeSequence PatientMotherBirthName
    PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence PatientReligiousPreference
    PatientSetupPhotoDescription PatientSize PatientState PatientTelecomInformation PatientTelephoneNumbers
    PatientTransportArrangements PatientTreatmentPreparationMethodDescription
    PatientTreatmentPreparationProcedureParameterDescription PatientWeight PerformedLocation
    PerformedProcedureStepDescription PerformedProcedureStepEndDate PerformedProcedureStepEndDateTime
    PerformedProcedureStepEndTime PerformedProcedureStepID PerformedProcedureStepStartDate
    PerformedProcedureStepStartDateTime PerformedProcedureStepStartTime PerformedStationAETitle
    PerformedStationGeographicLocationCodeSequence PerformedStationName PerformedStationNameCodeSequence
    PerformingPhysicianIdentificationSequence PerformingPhysicianName PersonAddress PersonTelecomInformation
    PersonTelephoneNumbers PhysicianApprovingInterpretation PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence
    PhysiciansReadingStudyIdentificationSequence PlateID PositionAcquisitionTemplateDescription
    PositionAcquisitionTemplateName PreMedication PregnancyStatus PrescriptionDescription PresentationCreationDate
    PresentationCreationTime PriorTreatmentDoseDescription ProcedureStepCancellationDateTime ProductExpirationDateTime
    PyramidDescription PyramidLabel ROICreatorSequence ROIDateTime ROIDescription ROIGenerationDescription
    ROIInterpreterSequence ROIObservationDateTime ROIObservationDescription ROIObservationLabel RTPlanDescription
    RTPlanName RadiopharmaceuticalStartDateTime RadiopharmaceuticalStartTime RadiopharmaceuticalStopDateTime
    RadiopharmaceuticalStopTime ReasonForOmissionDescription ReasonForRequestedProcedureCodeSequence ReasonForStudy
    ReasonForTheImagingServiceRequest ReasonForTheRequestedProcedure ReasonForVisit ReasonForVisitCodeSequence
    ReceivingAE ReferencedDigitalSignatureSequence ReferencedPatientAliasSequence ReferencedPatientPhotoSequence
    ReferencedPatientSequence ReferencedSOPInstanceMACSequence ReferringPhysicianAddress
    ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers RegionOfResidence
    RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments RequestedProcedureID
    RequestedProcedureLocation RequestedSeriesDescription RequestingAE RequestingPhysician RequestingService
    RespiratoryMotionCompensationTechniqueDescription ResponsibleOrganization ResponsiblePerson ResultsComments
    ResultsDistributionListSequence ResultsID ResultsIDIssuer RetrieveAETitle SOPAuthorizationDateTime
    ScheduledAdmissionDate ScheduledAdmissionTime ScheduledDischargeDate ScheduledDischargeTime
    ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
    ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
    ScheduledProcedureStepDescription ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
    ScheduledProcedureStepExpirationDateTime ScheduledProcedureStepID ScheduledProcedureStepLocation
    ScheduledProcedureStepModificationDateTime ScheduledProcedureStepStartDate ScheduledProcedureStepStartDateTime
    ScheduledProcedureStepStartTime ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence
    ScheduledStationName ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle
    ScheduledStudyStartDate ScheduledStudyStartTime ScheduledStudyStopDate ScheduledStudyStopTime SeriesDescription
    ServiceEpisodeDescription ServiceEpisodeID SetupTechniqueDescription ShieldingDeviceDescription SlideIdentifier
    SmokingStatus SourceManufacturer SpecialNeeds SpecimenAccessionNumber SpecimenDetailedDescription
    SpecimenShortDescription StationAETitle StructureSetDescription StructureSetName StudyArrivalDate StudyArrivalTime
    StudyComments StudyCompletionDate StudyCompletionTime StudyDescription StudyIDIssuer StudyReadDate StudyReadTime
    StudyVerifiedDate StudyVerifiedTime SubstanceAdministrationDateTime TelephoneNumberTrial TemplateLocalVersion
    TemplateVersion TextComments TextString TimeOfDocumentCreationOrVerbalTransactionTrial TimeOfLastCalibration
    TimeOfSecondaryCapture TimezoneOffsetFromUTC TopicAuthor TopicKeywords TopicSubject TopicTitle
    TransducerIdentificationSequence TreatmentSites UDISequence UniqueDeviceIdentifier
    VerbalSourceIdentifierCodeSequenceTrial VerbalSourceTrial VisitComments WaveformFilterDescription XRayDetectorLabel
""".split(),
    "U": """
    AcquisitionUID ConcatenationUID ConceptualVolumeUID ConstituentConceptualVolumeUID DeviceUID DigitalSignatureUID
    DimensionOrganizationUID DoseReferenceUID DosimetricObjectiveUID FailedSOPInstanceUIDList FiducialUID
    FrameOfReferenceUID InstanceCreatorUID IrradiationEventUID LargePaletteColorLookupTableUID
    ManufacturerDeviceClassUID MediaStorageSOPInstanceUID MultiplexGroupUID ObservationSubjectUIDTrial ObservationUID
    PaletteColorLookupTableUID PatientSetupUID PresentationDisplayCollectionUID PresentationSequenceCollectionUID
    PyramidUID RTTreatmentPhaseUID ReferencedConceptualVolumeUID ReferencedDoseReferenceUID
    ReferencedDosimetricObjectiveUID ReferencedFiducialsUID ReferencedFrameOfReferenceUID ReferencedObservationUIDTrial
    ReferencedSOPInstanceUID ReferencedSOPInstanceUIDInFile ReferencedTreatmentPositionGroupUID
    RelatedFrameOfReferenceUID SOPInstanceUID SeriesInstanceUID SourceConceptualVolumeUID SourceFrameOfReferenceUID
    SpecimenUID StorageMediaFileSetUID StudyInstanceUID SynchronizationFrameOfReferenceUID TargetUID
    TemplateExtensionCreatorUID TemplateExtensionOrganizationUID TrackingUID TransactionUID TreatmentPositionGroupUID
    TreatmentSessionUID UID
""".split(),
    "Z/D": """
    ContentCreatorName ContentDate ContentTime ContrastBolusAgent InstructionPerformedDateTime PatientID
""".split(),
    "X/Z": """
    AcquisitionContextSequence AcquisitionDate AcquisitionTime BarcodeValue LabelText PatientSexNeutered
    ReferencedStudySequence RequestedProcedureDescription ReviewerName SourceSerialNumber TreatmentMachineName
""".split(),
    "X/D": """
    AcquisitionDeviceProcessingDescription DateOfLastDetectorCalibration DetectorID EndAcquisitionDateTime
    FirstTreatmentDate InstanceCreationDate IntendedPhaseEndDate IntendedPhaseStartDate MostRecentTreatmentDate
    ObservationDateTime OperatorIdentificationSequence ProtocolName RTPlanDate RTPlanTime RTTreatmentApproachLabel
    SeriesDate SeriesTime StartAcquisitionDateTime TimeOfLastDetectorCalibration TreatmentDate TreatmentSite
    TreatmentTime
""".split(),
    "X/Z/D": """
    AcquisitionDateTime DeviceSerialNumber InstanceCreationTime InstitutionCodeSequence InstitutionName OperatorsName
    ReferencedPerformedProcedureStepSequence StationName
""".split(),
    "X/Z/U*": """
    ReferencedImageSequence SourceImageSequence
""".split(),
}

#: Keyword → basic-profile action (one of ``D Z X U X/Z X/D Z/D X/Z/D X/Z/U*``).
BASIC_PROFILE: dict[str, str] = {
    keyword: action for action, keywords in BASIC_PROFILE_BY_ACTION.items() for keyword in keywords
}

#: Repeating groups removed by the basic profile: (group mask, element) of Curve Data (50xx,xxxx), Overlay Data
#: (60xx,3000) and Overlay Comments (60xx,4000); ``None`` as element removes the whole group.
REPEATING_REMOVED: tuple[tuple[int, int | None], ...] = ((0x5000, None), (0x6000, 0x3000), (0x6000, 0x4000))

#: Retain Patient Characteristics Option: kept (K) instead of the basic action.
PATIENT_CHARACTERISTICS = frozenset(
    "PatientAge PatientSex PatientSize PatientWeight EthnicGroup SmokingStatus PregnancyStatus PatientSexNeutered"
    " PatientSpeciesDescription".split()
)

#: Clean Descriptors Option: kept after cleaning (C): words matching the file's patient identifiers removed.
CLEAN_DESCRIPTORS = frozenset(
    "SeriesDescription StudyDescription ProtocolName ContrastBolusAgent PerformedProcedureStepDescription"
    " RequestedProcedureDescription ImageComments AcquisitionComments ROIName ROIDescription"
    " StructureSetLabel".split()
)

#: Free text the table keeps but that may name anyone (SR TEXT content items): a dummy value, or cleaned with the
#: Clean Descriptors option (an addition to the table, which keeps Text Value).
FREE_TEXT = frozenset({"TextValue"})

#: Dates never kept, even shifted, under the Modified Dates option (they identify the patient by themselves).
NEVER_SHIFTED = frozenset("PatientBirthDate PatientBirthTime PatientDeathDateInAlternativeCalendar".split())

#: Retain Safe Private Option: (group, private creator, element byte) of the private attributes kept: the
#: b-value of Siemens, GE and Philips MR diffusion images.
SAFE_PRIVATE: frozenset[tuple[int, str, int]] = frozenset(
    {(0x0019, "SIEMENS MR HEADER", 0x0C), (0x0043, "GEMS_PARM_01", 0x39), (0x2001, "Philips Imaging DD 001", 0x03)}
)

#: UI attributes that name a standard or registered thing (a class, a syntax, a coding scheme), never replaced.
KEPT_UIDS = frozenset(
    "TransferSyntaxUID ImplementationClassUID CodingSchemeUID MappingResourceUID ContextGroupExtensionCreatorUID"
    " TemplateExtensionOrganizationUID TemplateExtensionCreatorUID ReferencedTransferSyntaxUIDInFile"
    " PrivateInformationCreatorUID".split()
)
#: The root of UIDs the DICOM standard registers (classes, syntaxes, well-known frames of reference).
STANDARD_UID_ROOT = "1.2.840.10008."


@dataclasses.dataclass(frozen=True)
class ProfileOptions:
    """The profile options of one run (the CLI flags of ``virtual-biopsy dicom deidentify``)."""

    #: ``None`` (dates removed) or ``"shift"`` (Retain Longitudinal Temporal Information with Modified Dates).
    retainDates: str | None = None
    retainPatientCharacteristics: bool = False
    cleanDescriptors: bool = False
    safePrivate: bool = False
    #: Write images with burned-in annotation (flagged in the report) instead of refusing them.
    allowBurnedIn: bool = False

    def methodCodes(self) -> list[tuple[str, str]]:
        """(DCM code value, meaning) of the profile and each option in use (De-identification Method Code)."""
        codes = [("113100", "Basic Application Confidentiality Profile")]
        if self.cleanDescriptors:
            codes.append(("113105", "Clean Descriptors Option"))
        if self.retainDates == "shift":
            codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
        if self.retainPatientCharacteristics:
            codes.append(("113108", "Retain Patient Characteristics Option"))
        if self.safePrivate:
            codes.append(("113111", "Retain Safe Private Option"))
        return codes


def isClassUid(keyword: str) -> bool:
    """Whether a UI attribute names a standard thing (kept): a SOP class, a transfer syntax, a coding scheme."""
    return keyword.endswith("ClassUID") or keyword in KEPT_UIDS


def resolvedAction(keyword: str, options: ProfileOptions) -> str | None:
    """The action applied to ``keyword`` with ``options``: ``D Z X K C U U*`` (U* keeps a sequence and treats its
    items), or ``None`` for an attribute the table does not name.

    Compound actions keep what an IOD may require: ``X/Z`` → Z, ``X/D`` → D, ``Z/D`` → Z, ``X/Z/D`` → Z (a type 2
    attribute stays present, emptied), ``X/Z/U*`` → U*.
    """
    if options.retainPatientCharacteristics and keyword in PATIENT_CHARACTERISTICS:
        return "K"
    if options.cleanDescriptors and (keyword in CLEAN_DESCRIPTORS or keyword in FREE_TEXT):
        return "C"
    if keyword in FREE_TEXT:
        return "D"
    action = BASIC_PROFILE.get(keyword)
    if action is None:
        return None
    return {"X/Z": "Z", "X/D": "D", "Z/D": "Z", "X/Z/D": "Z", "X/Z/U*": "U*"}.get(action, action)
