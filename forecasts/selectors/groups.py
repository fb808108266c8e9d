"""Reads of question groups: the groups a user may see with their members, the crowd's implied
distribution, and each author's group score.

Every read starts from `forecasts.access` (`groups_visible_to`, `questions_visible_to`,
`scores_visible_to`, `authors_visible_to`). The number of queries does not depend on how many
members or forecasts a group has: members come in one prefetch, scores in one query.
"""

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from forecasts import scoring
from forecasts.access import (
    authors_visible_to,
    group_or_404,
    groups_visible_to,
    questions_visible_to,
    scores_visible_to,
)
from forecasts.models import QuestionGroup
from forecasts.selectors.questions import QUESTION_LIST_COLUMNS, questions_as_listed_for


def groups_as_listed_for(user) -> QuerySet[QuestionGroup]:
    """Groups with owner, team, source and their visible members (each as the question list shows it)."""
    members = questions_visible_to(user, questions_as_listed_for(user)).only(*QUESTION_LIST_COLUMNS)
    return QuestionGroup.objects.select_related("owner", "team", "source").prefetch_related(
        Prefetch("members", queryset=members.order_by("group_position"), to_attr="listed_members")
    )


def group_list_for(user) -> QuerySet[QuestionGroup]:
    """The groups the user may see, newest first, members loaded."""
    return groups_visible_to(user, groups_as_listed_for(user)).order_by("-created_at", "-id")


def group_get_for(user, *, group_id) -> QuestionGroup:
    """One visible group with its members; the same 404 whether it is hidden or missing."""
    return group_or_404(user, group_id, queryset=groups_as_listed_for(user))


@dataclass(frozen=True)
class ImpliedDistribution:
    """The crowd's member medians as they are and made coherent, and whether they differ visibly."""

    raw: list[float | None]
    coherent: list[float | None]
    largest_difference: float
    incoherent: bool
    # when: P(in each window step) and P(not by the last end); which: the options' probabilities.
    masses: list[float | None]


def implied_distribution(kind: str, medians: list[float | None]) -> ImpliedDistribution:
    """What the crowd's member medians imply for the group (pure: no queries)."""
    coherent = scoring.coherent_distribution(kind, medians)
    differences = [abs(a - b) for a, b in zip(medians, coherent, strict=True) if a is not None]
    largest = max(differences, default=0.0)
    if kind == QuestionGroup.Kind.WHEN:
        if any(value is None for value in coherent):
            masses: list[float | None] = [None] * (len(coherent) + 1)
        else:
            steps = [*coherent, 1.0]
            masses = [round(steps[0], 6)] + [round(steps[k] - steps[k - 1], 6) for k in range(1, len(steps))]
    else:
        masses = list(coherent)
    return ImpliedDistribution(
        raw=medians,
        coherent=coherent,
        largest_difference=largest,
        incoherent=largest > scoring.INCOHERENCE_THRESHOLD,
        masses=masses,
    )


def group_distribution(group: QuestionGroup) -> ImpliedDistribution:
    """The implied distribution of a group loaded by `groups_as_listed_for` (no further query).

    Built from each member's crowd as the viewer may see it (`listed_crowd_probability`, None
    while blind forecasting hides it), so a hidden crowd never shows through the group.
    """
    return implied_distribution(group.kind, [member.listed_crowd_probability for member in group.listed_members])


# Group scores ---------------------------------------------------------------------------------


@dataclass
class GroupScore:
    """One author's score on a whole group, from the member forecasts that count."""

    forecaster_id: int | None
    source_id: int | None
    name: str
    members_scored: int
    complete: bool
    ranked_probability_score: float | None = None
    mean_brier: float | None = None
    multiclass_brier: float | None = None
    log_score: float | None = None
    probabilities: list[float | None] | None = None


def group_scores_for(user, group: QuestionGroup) -> list[GroupScore]:
    """Each author's group score: RPS over a ladder (over the members they forecast), multiclass
    Brier and log score over a set (only authors who forecast every option). Best first."""
    members = group.listed_members
    position = {member.pk: index for index, member in enumerate(members)}
    visible_authors = authors_visible_to(user).values("pk")
    scores = (
        scores_visible_to(user)
        .filter(question_id__in=list(position))
        # A statistic names only authors the caller may see; sources are public statements.
        .filter(Q(forecaster__isnull=True) | Q(forecaster_id__in=visible_authors))
        .values("question_id", "forecaster_id", "forecaster__username", "source_id", "source__name", "probability")
        .order_by("question_id")
    )
    outcomes: dict[int, int] = {}
    by_author: dict[tuple, dict] = {}
    for row in scores:
        key = (row["forecaster_id"], row["source_id"])
        author = by_author.setdefault(
            key, {"name": row["forecaster__username"] or row["source__name"], "probabilities": [None] * len(members)}
        )
        author["probabilities"][position[row["question_id"]]] = row["probability"]
    for member in members:
        if member.outcome in ("yes", "no"):
            outcomes[position[member.pk]] = 1 if member.outcome == "yes" else 0
    results = [
        author_group_score(group.kind, key, author["name"], author["probabilities"], outcomes, len(members))
        for key, author in by_author.items()
    ]
    return sorted(results, key=group_score_order)


def author_group_score(
    kind: str, key: tuple, name: str, probabilities: list[float | None], outcomes: dict[int, int], size: int
) -> GroupScore:
    """One author's GroupScore from their counted member probabilities (pure)."""
    forecaster_id, source_id = key
    scored = [index for index, value in enumerate(probabilities) if value is not None and index in outcomes]
    result = GroupScore(
        forecaster_id=forecaster_id,
        source_id=source_id,
        name=name,
        members_scored=len(scored),
        complete=len(scored) == size,
        probabilities=probabilities,
    )
    if not scored:
        return result
    forecast = [probabilities[index] for index in scored]
    observed = [outcomes[index] for index in scored]
    if kind == QuestionGroup.Kind.WHEN:
        result.ranked_probability_score = scoring.ranked_probability_score(forecast, observed)
        result.mean_brier = scoring.brier(forecast, observed)
    elif result.complete and sum(observed) == 1:
        winner = observed.index(1)
        result.multiclass_brier = scoring.multiclass_brier(forecast, winner)
        result.log_score = scoring.multiclass_log_score(forecast, winner)
    return result


def group_score_order(score: GroupScore) -> tuple:
    primary = score.ranked_probability_score if score.ranked_probability_score is not None else score.multiclass_brier
    return (primary is None, primary if primary is not None else 0.0, score.name or "")
