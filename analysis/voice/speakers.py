"""Who speaks when: one speaker per audio channel, or clusters of voices; roles guessed.

Telehealth exports often record each participant on a channel of their own: when channels
differ, each speech piece goes to the channel that is clearly louder in it. Otherwise pieces
are clustered by voiceprint (the CAM++ speaker encoder's embedding, analysis/voice/
campplus.py), centred on the recording's own mean voiceprint: average linkage on cosine
distance, cut at `max_distance`; voices whose centres are closer than `min_separation` merged,
and a voice holding less than `min_share` of the speech folded into the nearest (all chosen on
conversations other than those the diarization benchmark reports, docs/evaluation.md, where
the limit is set out: a few pairs of people still lie closer to the encoder than one person's
moods).
Without voiceprints, pieces are clustered by voice colour (MFCC means/deviations) and pitch
level, as before: Ward linkage into two groups, kept when they separate well (silhouette above
`min_silhouette`). A speaker whose voice activity follows a face track's mouth movement is
linked to that track.

Roles are guesses until a clinician sets them (`role_source: "guessed"`): the recording's camera
usually frames the client, so a speaker linked to a face is the client when only one speaker
is; otherwise the speaker with the most talk time is the client, because clients usually talk
for most of a psychotherapy session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

CLIENT = "client"
CLINICIAN = "clinician"
UNKNOWN = "unknown"
GUESSED = "guessed"
SET_BY_CLINICIAN = "clinician"

CHANNEL_DOMINANCE_DB = 6.0  # a piece belongs to a channel this much louder than the others
SAME_CHANNEL_DB = 1.0  # channels within this on (almost) every piece are copies of one mix
MIN_LINK_CORRELATION = 0.2  # voice activity vs mouth motion, for a speaker-face link


class SeenFace(Protocol):
    """What linking a voice to a face needs of a face track (analysis.stage_outputs.FaceTrack)."""

    @property
    def track_id(self) -> int: ...
    @property
    def times_s(self) -> Sequence[float] | np.ndarray: ...
    @property
    def mouth_motion(self) -> Sequence[float] | np.ndarray: ...


@dataclass(frozen=True)
class SpeakerOptions:
    # "voiceprint": the speaker encoder's embeddings; "timbre": MFCCs and pitch (as before)
    features: str = "voiceprint"
    # voiceprint: each piece's voiceprint less the recording's mean voiceprint before the
    # linkage (three pieces or more). What every piece shares drops out and what tells the
    # voices apart stands out: on RAVDESS conversations, telling two pieces of one voice from
    # two of different voices by GE2E's voiceprints went from AUC 0.91-0.92 to 0.96-0.98.
    centred: bool = True
    # voiceprint: pieces closer than this (cosine distance between their voiceprints, centred
    # when `centred`; average linkage) are one voice
    max_distance: float = 1.1
    # voiceprint: a voice with less than this share of the speech joins the nearest other one
    min_share: float = 0.2
    # voiceprint: two voices whose mean voiceprints (not centred) are closer than this are one
    # person; centring says which pieces belong together, not whether two voices are there
    min_separation: float = 0.55
    # timbre: at most this many voices, kept only when they separate this well (silhouette)
    max_speakers: int = 2
    min_silhouette: float = 0.3


# How pieces were clustered before the speaker encoder: MFCC timbre, two voices at most.
BEFORE_OPTIONS = SpeakerOptions(features="timbre")
# How GE2E voiceprints (analysis/voice/speaker_embedding.py) were clustered before CAM++: one
# person's voiceprints lay closer together there, and so did two people's.
GE2E_OPTIONS = SpeakerOptions(min_separation=0.32)


@dataclass(frozen=True)
class VoicePiece:
    """A stretch of speech (a VAD segment or part of a long one) and what describes the voice."""

    start_s: float
    end_s: float
    channel_db: tuple[float, ...]  # RMS level per audio channel, dBFS
    timbre: tuple[float, ...]  # MFCC means and deviations
    f0_median_hz: float | None
    voiceprint: tuple[float, ...] = ()  # the speaker encoder's embedding; () when not computed


@dataclass
class Speaker:
    id: str
    role: str = UNKNOWN
    role_source: str = GUESSED
    talk_time_s: float = 0.0
    channel: int | None = None
    face_track_id: str | None = None
    link_correlation: float | None = None


@dataclass
class SpeakerAssignment:
    speakers: list[Speaker]
    piece_speakers: list[str]  # speaker id of each piece, in piece order
    method: str  # "channels", "clustering" or "single"
    details: dict[str, float] = field(default_factory=dict)


def _by_channel(pieces: Sequence[VoicePiece]) -> list[int] | None:
    levels = np.array([p.channel_db for p in pieces])  # (n_pieces, n_channels)
    if levels.ndim != 2 or levels.shape[1] < 2:
        return None
    ordered = np.sort(levels, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    if np.median(margin) < SAME_CHANNEL_DB:
        return None
    loudest = levels.argmax(axis=1)
    if len(set(loudest[margin >= CHANNEL_DOMINANCE_DB].tolist())) < 2:
        return None
    return [int(c) for c in loudest]


def voice_features(pieces: Sequence[VoicePiece]) -> np.ndarray:
    """(n, d) voice colour and pitch level per piece, standardised over the recording."""
    pitches = [p.f0_median_hz for p in pieces if p.f0_median_hz]
    default_pitch = float(np.median(pitches)) if pitches else 120.0
    features = np.array(
        [[*p.timbre, 12 * np.log2((p.f0_median_hz or default_pitch) / 100.0)] for p in pieces]
    )
    return np.asarray((features - features.mean(axis=0)) / (features.std(axis=0) + 1e-9))


def _by_clustering(
    pieces: Sequence[VoicePiece], options: SpeakerOptions
) -> tuple[list[int], float]:
    """Ward clusters of the pieces' voices: the number of voices (2 up to max_speakers) whose
    clusters separate best, if that is at least `min_silhouette`; else one voice."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    if len(pieces) < 3:
        return [0] * len(pieces), 0.0
    features = voice_features(pieces)
    tree = linkage(features, method="ward")
    best: tuple[float, list[int]] = (-1.0, [0] * len(pieces))
    for k in range(2, min(options.max_speakers, len(pieces) - 1) + 1):
        labels = fcluster(tree, t=k, criterion="maxclust") - 1
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(features, labels))
        if score > best[0]:
            best = (score, [int(label) for label in labels])
    score, labels = best
    if score < options.min_silhouette:
        return [0] * len(pieces), max(score, 0.0)
    return labels, score


def _by_voiceprint(
    pieces: Sequence[VoicePiece], options: SpeakerOptions
) -> tuple[list[int], float]:
    """Average-linkage clusters of the pieces' embeddings (centred when `options.centred`) cut
    at `max_distance`; two clusters whose centres are closer than `min_separation` are merged,
    and a cluster with less than `min_share` of the speech is folded into the nearest larger
    one. Returns the labels and the largest distance between two voices kept (0 for one)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(pieces) < 2:
        return [0] * len(pieces), 0.0
    prints = np.array([p.voiceprint for p in pieces], dtype=np.float64)
    if options.centred and len(pieces) < 3:
        # Two pieces centred point opposite ways whoever speaks: only their separation decides.
        labels = np.arange(len(pieces))
    else:
        features = prints - prints.mean(axis=0) if options.centred else prints
        if np.linalg.norm(features, axis=1).min() < 1e-9:  # a piece at the mean has no direction
            features = prints
        labels = fcluster(linkage(features, method="average", metric="cosine"),
                          t=options.max_distance, criterion="distance") - 1  # fmt: skip
    lengths = np.array([p.end_s - p.start_s for p in pieces])
    while True:
        groups = sorted(set(labels.tolist()))
        if len(groups) == 1:
            return [0] * len(pieces), 0.0
        shares = {g: lengths[labels == g].sum() / lengths.sum() for g in groups}
        smallest = min(groups, key=shares.__getitem__)
        centres = {g: _unit(prints[labels == g].mean(axis=0)) for g in groups}
        closest = min(
            ((a, b) for a in groups for b in groups if a < b),
            key=lambda pair: 1 - float(centres[pair[0]] @ centres[pair[1]]),
        )
        if 1 - float(centres[closest[0]] @ centres[closest[1]]) < options.min_separation:
            labels[labels == closest[1]] = closest[0]  # one person, heard in two moods
            continue
        if shares[smallest] >= options.min_share:
            break
        others = [g for g in groups if g != smallest]
        nearest = max(others, key=lambda g: float(centres[g] @ centres[smallest]))
        labels[labels == smallest] = nearest
    spread = max(1 - float(centres[a] @ centres[b]) for a in groups for b in groups if a < b)
    order = {g: i for i, g in enumerate(sorted(groups, key=lambda g: np.argmax(labels == g)))}
    return [order[int(g)] for g in labels], spread


def _unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12))


def _activity_correlation(
    pieces: Sequence[VoicePiece],
    labels: Sequence[str],
    speaker_id: str,
    track: SeenFace,
) -> float | None:
    times = np.asarray(track.times_s, dtype=float)
    motion = np.asarray(track.mouth_motion, dtype=float)
    if len(times) < 5 or len(motion) != len(times):
        return None
    active = np.zeros(len(times))
    for piece, label in zip(pieces, labels, strict=True):
        if label == speaker_id:
            active[(times >= piece.start_s) & (times < piece.end_s)] = 1.0
    if active.std() == 0 or np.nanstd(motion) == 0:
        return None
    return float(np.corrcoef(active, np.nan_to_num(motion))[0, 1])


def assign_speakers(
    pieces: Sequence[VoicePiece],
    face_tracks: Sequence[SeenFace] = (),
    options: SpeakerOptions | None = None,
) -> SpeakerAssignment:
    """Group pieces into speakers, link speakers to face tracks, and guess their roles."""
    details: dict[str, float] = {}
    channels = _by_channel(pieces)
    if channels is not None:
        method, groups = "channels", channels
    else:
        options = options or SpeakerOptions()
        if options.features == "voiceprint" and all(p.voiceprint for p in pieces):
            groups, details["voice_distance"] = _by_voiceprint(pieces, options)
        else:
            groups, details["silhouette"] = _by_clustering(pieces, options)
        method = "clustering" if len(set(groups)) > 1 else "single"
    order = sorted(set(groups), key=groups.index)
    ids = {group: f"S{i + 1}" for i, group in enumerate(order)}
    labels = [ids[g] for g in groups]
    speakers = [Speaker(id=ids[g], channel=g if method == "channels" else None) for g in order]
    for piece, label in zip(pieces, labels, strict=True):
        next(s for s in speakers if s.id == label).talk_time_s += piece.end_s - piece.start_s

    _link_faces(pieces, labels, speakers, face_tracks)
    guess_roles(speakers)
    return SpeakerAssignment(speakers, labels, method, details)


def _link_faces(
    pieces: Sequence[VoicePiece],
    labels: Sequence[str],
    speakers: list[Speaker],
    face_tracks: Sequence[SeenFace],
) -> None:
    candidates: list[tuple[float, Speaker, str]] = []
    for speaker in speakers:
        for track in face_tracks:
            r = _activity_correlation(pieces, labels, speaker.id, track)
            if r is not None and r >= MIN_LINK_CORRELATION:
                candidates.append((r, speaker, str(track.track_id)))
    taken: set[str] = set()
    for r, speaker, track_id in sorted(candidates, key=lambda c: -c[0]):
        if speaker.face_track_id is None and track_id not in taken:
            speaker.face_track_id, speaker.link_correlation = track_id, round(r, 3)
            taken.add(track_id)


def guess_roles(speakers: list[Speaker]) -> None:
    """Guess every speaker's role (see the module docstring for the heuristic)."""
    if not speakers:
        return
    on_camera = [s for s in speakers if s.face_track_id is not None]
    client = on_camera[0] if len(on_camera) == 1 else max(speakers, key=lambda s: s.talk_time_s)
    for speaker in speakers:
        speaker.role = CLIENT if speaker is client else CLINICIAN
        speaker.role_source = GUESSED
