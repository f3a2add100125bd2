"""Patients and outcomes of the virtual cohort: covariates, grade and survival.

Per patient (``clinical`` stream, in this order):

- latent aggressiveness ``a ~ N(0, 1)`` (never written as a clinical covariate);
- age ``~ N(55, 12)`` years, clipped to [18, 85] (:data:`AGE_MEAN`, :data:`AGE_SD`);
- sex, F or M with equal probability (no effect on anything: a null covariate);
- grade: high-grade-like (``HGG``) with probability ``logistic(0.5 + 2.0 a)``
  (:data:`GRADE_INTERCEPT`, :data:`GRADE_SLOPE`), else low-grade-like (``LGG``);
- site: uniform over the sites, independent of everything else.

Survival (``survival`` stream), in months: Weibull proportional hazards
``h(t) = lambda k t^(k-1) exp(eta)`` with shape ``k`` = :data:`WEIBULL_SHAPE` and
``eta = 1.2 a + 0.03 (age - 55)`` (:data:`AGGRESSIVENESS_LOG_HAZARD`,
:data:`AGE_LOG_HAZARD` per year); ``lambda`` gives a median of
:data:`BASELINE_MEDIAN_MONTHS` at ``a = 0``, age 55. Grade acts only through
``a``. The event time is ``T = (-ln U / (lambda exp(eta)))^(1/k)``.

Censoring: patients enter uniformly over :data:`ACCRUAL_MONTHS` and the study
ends :data:`STUDY_MONTHS` after it opened (administrative censoring), and
patients drop out at an exponential rate (:data:`DROPOUT_MEAN_MONTHS`). The
observed ``time`` is the earliest of the three, rounded to 0.01 month (at least
0.01), and ``event`` is 1 when death came first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGE_MEAN = 55.0
AGE_SD = 12.0
AGE_RANGE = (18.0, 85.0)
GRADE_INTERCEPT = 0.5
GRADE_SLOPE = 2.0
WEIBULL_SHAPE = 1.4
BASELINE_MEDIAN_MONTHS = 24.0
AGGRESSIVENESS_LOG_HAZARD = 1.2
AGE_LOG_HAZARD = 0.03
ACCRUAL_MONTHS = 36.0
STUDY_MONTHS = 72.0
DROPOUT_MEAN_MONTHS = 120.0

#: Weibull scale ``lambda`` that gives :data:`BASELINE_MEDIAN_MONTHS` at ``eta = 0``.
BASELINE_HAZARD_SCALE = np.log(2.0) / BASELINE_MEDIAN_MONTHS**WEIBULL_SHAPE


@dataclass
class Patient:
    """Covariates of one virtual patient (``aggressiveness`` is latent)."""

    aggressiveness: float
    age: float
    sex: str
    grade: str
    highGradeProbability: float
    siteIndex: int


@dataclass
class Outcome:
    """Survival of one patient: the observed ``time`` and ``event``, and the latent times (months)."""

    time: float
    event: int
    eventTime: float
    censorTime: float
    logHazard: float


def samplePatient(rng: np.random.Generator, siteCount: int) -> Patient:
    """Draw a patient's covariates from the ``clinical`` stream."""
    aggressiveness = float(rng.standard_normal())
    age = float(np.clip(AGE_MEAN + AGE_SD * rng.standard_normal(), *AGE_RANGE))
    sex = "F" if rng.random() < 0.5 else "M"
    probability = float(1.0 / (1.0 + np.exp(-(GRADE_INTERCEPT + GRADE_SLOPE * aggressiveness))))
    grade = "HGG" if rng.random() < probability else "LGG"
    siteIndex = int(rng.integers(siteCount))
    return Patient(aggressiveness, round(age, 1), sex, grade, probability, siteIndex)


def logHazard(aggressiveness: float, age: float) -> float:
    """Linear predictor ``eta`` of the Weibull proportional-hazards model."""
    return AGGRESSIVENESS_LOG_HAZARD * aggressiveness + AGE_LOG_HAZARD * (age - AGE_MEAN)


def sampleOutcome(rng: np.random.Generator, patient: Patient) -> Outcome:
    """Draw the survival time and censoring of ``patient`` from the ``survival`` stream."""
    eta = logHazard(patient.aggressiveness, patient.age)
    uniform = 1.0 - rng.random()
    eventTime = (-np.log(uniform) / (BASELINE_HAZARD_SCALE * np.exp(eta))) ** (1.0 / WEIBULL_SHAPE)
    administrative = STUDY_MONTHS - rng.uniform(0.0, ACCRUAL_MONTHS)
    dropout = rng.exponential(DROPOUT_MEAN_MONTHS)
    censorTime = min(administrative, dropout)
    event = int(eventTime <= censorTime)
    time = max(round(float(min(eventTime, censorTime)), 2), 0.01)
    return Outcome(
        time=time, event=event, eventTime=float(eventTime), censorTime=float(censorTime), logHazard=float(eta)
    )
