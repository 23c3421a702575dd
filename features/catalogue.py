"""The feature catalogue: every output column of the feature pipeline, with a readable label,
its formula, its unit and the monotone constraint the conversion model puts on it.

The catalogue is what explanations show to a brand manager, and what a benchmark is read
against: a rate is meaningless without its formula. A test checks that it covers every column.
"""
from __future__ import annotations

from dataclasses import dataclass

from data.contract import COMPENSATIONS, FORMATS, NICHES, PLATFORMS
from data.domain import AUDIENCE_CLASSES, TIERS

# 1.1.0: audience fake share by EM quantification with the off-domain interval;
# audience_domain_drift added.
FEATURE_VERSION = "1.1.0"
FAMILIES = ("engagement", "authenticity", "niche", "campaign")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    label: str
    formula: str
    unit: str
    family: str
    # Expected direction of the effect on a good outcome (+1 / -1), 0 when unknown.
    monotone: int = 0
    # False for descriptive columns that are reported but are no evidence about the creator
    # (the size of its peer cohort says how many peers the training data had).
    model_input: bool = True
    # True where the domain is unambiguous enough for the conversion model to enforce
    # `monotone` as a constraint: a better niche / brief / market fit and repeat partnerships
    # never lower expected conversions; a larger fake share never raises them.
    conversion_constraint: bool = False


_SPECS: list[FeatureSpec] = []


def _add(name: str, label: str, formula: str, unit: str, family: str, monotone: int = 0,
         model_input: bool = True, conversion_constraint: bool = False) -> None:
    _SPECS.append(FeatureSpec(name, label, formula, unit, family, monotone, model_input,
                              conversion_constraint))


ER = "(likes + comments) / followers"
E = "engagement"
A = "authenticity"

# --- engagement -----------------------------------------------------------------------------
_add("followers", "Followers", "follower count as of the cutoff (last follower_history snapshot "
     "before it, else creators.followers)", "accounts", E)
_add("platform_code", "Platform", "index in " + "/".join(PLATFORMS), "code", E)
_add("tier_code", "Follower tier", "index in " + "/".join(TIERS) + " by followers "
     "(data.domain.TIER_LOWER_BOUNDS)", "code", E)
_add("posts_analysed", "Posts analysed", "number of posts dated before the cutoff", "posts", E)
_add("engagement_rate_mean", "Mean engagement rate (likes+comments / followers)",
     f"mean over posts of {ER}", "ratio", E, 1)
_add("engagement_rate_median", "Median engagement rate (likes+comments / followers)",
     f"median over posts of {ER}", "ratio", E, 1)
_add("engagement_rate_by_views_median", "Median engagement per view (likes+comments / views)",
     "median over posts with views > 0 of (likes + comments) / views", "ratio", E, 1)
_add("views_per_follower_median", "Median views per follower (low = 'empty reach')",
     "median over posts with views > 0 of views / followers", "ratio", E, 1)
for _fmt in FORMATS:
    _add(f"engagement_rate_median_{_fmt}", f"Median engagement rate of {_fmt} posts",
         f"median over {_fmt} posts of {ER}", "ratio", E)
_add("sponsored_post_share", "Share of sponsored posts",
     "sponsored posts / posts with a known sponsored flag", "share", E)
_add("sponsored_to_organic_engagement_ratio",
     "Engagement of sponsored posts relative to organic ones",
     f"median {ER} of sponsored posts / median of organic posts", "ratio", E, 1)
_add("posts_per_week", "Posts per week", "(posts - 1) * 7 / days between first and last post",
     "posts/week", E)
_add("posting_gap_cv", "Irregularity of posting",
     "std / mean of the days between consecutive posts", "ratio", E)
_add("engagement_trend_ratio", "Engagement trend (recent vs older posts)",
     f"median {ER} of the newer half of the posts / that of the older half (>= 4 posts)",
     "ratio", E)
_add("likes_per_comment", "Likes per comment", "sum of likes / sum of comments", "ratio", E)
_add("days_since_last_post", "Days since the last post",
     "reference date (cutoff, else latest observation) - last post date", "days", E, -1)
_add("cohort_size", "Peer cohort size",
     "training creators of the same platform x tier (reference of the percentiles)",
     "creators", E, model_input=False)
_add("engagement_rate_median_cohort_percentile", "Engagement rate percentile among peers",
     "100 * (#peers below + 0.5 * #peers equal) / #peers, peers = training creators of the "
     f"same platform x tier, metric = median {ER}", "percentile", E, 1)
_add("engagement_rate_by_views_median_cohort_percentile",
     "Engagement per view percentile among peers",
     "100 * (#peers below + 0.5 * #peers equal) / #peers of the median (likes + comments) / "
     "views, same platform x tier", "percentile", E, 1)
_add("views_per_follower_median_cohort_percentile", "Views per follower percentile among peers",
     "100 * (#peers below + 0.5 * #peers equal) / #peers of the median views / followers, "
     "same platform x tier", "percentile", E, 1)

# --- authenticity ---------------------------------------------------------------------------
_add("engagement_rate_vs_cohort_median", "Engagement rate relative to the tier norm",
     f"median {ER} / median of the same metric over the platform x tier training cohort",
     "ratio", A, 1)
_add("likes_per_comment_cohort_robust_z", "Likes-to-comments ratio vs peers (robust z)",
     "(log(likes per comment) - cohort median) / (1.4826 * cohort MAD), platform x tier "
     "training cohort", "z", A)
_add("likes_per_comment_out_of_range", "Likes-to-comments ratio out of range",
     "1 if |likes_per_comment_cohort_robust_z| > 3.5 else 0", "flag", A, -1)
_add("has_follower_history", "Follower history available",
     "1 if at least 2 follower snapshots before the cutoff", "flag", A)
_add("follower_history_snapshots", "Follower snapshots", "snapshots before the cutoff",
     "snapshots", A)
_add("follower_growth_per_30_days", "Follower growth per 30 days",
     "(last / first snapshot) ^ (30 / days between them) - 1", "ratio", A)
_add("follower_growth_max_robust_z", "Largest growth anomaly (robust z)",
     "max over snapshot intervals of (growth - median growth) / max(1.4826 * MAD, 0.001), "
     "growth = relative change between consecutive snapshots", "z", A, -1)
_add("follower_growth_anomalies", "Growth anomalies",
     "snapshot intervals whose growth robust z > 3.5", "intervals", A, -1)
_add("largest_step_relative_growth", "Largest follower jump",
     "max over snapshot intervals of (followers_t - followers_t-1) / followers_t-1", "ratio", A)
_add("largest_step_days_before_as_of", "Days since the largest follower jump",
     "reference date - date of the snapshot ending the largest jump", "days", A)
_add("largest_step_engagement_ratio", "Engagement after the largest jump vs before",
     "mean likes+comments per post in the 28 days from the jump / in the 28 days before it",
     "ratio", A, 1)
_add("largest_step_engagement_follow_through",
     "How much engagement followed the largest jump (0 = none: bought, 1 = proportional: viral)",
     "log(largest_step_engagement_ratio) / log(1 + largest_step_relative_growth); missing "
     "when the largest step is under 5%", "ratio", A, 1)
_add("has_comments", "Comments available", "1 if comments on posts before the cutoff", "flag", A)
_add("comments_analysed", "Comments analysed", "comments on posts before the cutoff",
     "comments", A)
_add("comment_generic_share", "Share of generic or emoji-only comments",
     "comments whose text, lower-cased without punctuation/emoji, is empty or a generic phrase "
     "(features.authenticity.GENERIC_COMMENTS) / comments with text", "share", A, -1)
_add("comment_duplicate_share", "Share of duplicated comments",
     "comments whose normalised text appears more than once on the creator / comments", "share",
     A, -1)
_add("commenter_top10_share", "Share of comments by the top 10 commenters",
     "comments by the 10 most frequent commenters / comments with a commenter id", "share", A,
     -1)
_add("commenter_herfindahl", "Commenter concentration (Herfindahl)",
     "sum over commenters of (their comments / comments)^2", "index", A, -1)
_add("comments_per_commenter", "Comments per commenter",
     "comments with a commenter id / distinct commenters", "ratio", A)
_add("following_to_followers", "Following / followers", "following / followers", "ratio", A)
_add("account_age_days", "Account age", "reference date - account_created", "days", A)
_add("posts_count", "Posts on the account",
     "creators.posts_count minus the posts in the table dated after the cutoff", "posts", A)
_add("verified", "Verified account", "1 if verified, 0 if not", "flag", A)
_add("has_audience_sample", "Audience sample available", "1 if sampled follower accounts",
     "flag", A)
_add("audience_sample_size", "Audience sample size", "sampled follower accounts", "accounts", A)
for _cls in AUDIENCE_CLASSES:
    _add(f"audience_share_{_cls}", f"Share of {_cls.replace('_', ' ')} followers (sample)",
         "sampled accounts classed " + _cls + " / sample size (suspicious: p_fake >= 0.5; "
         "influencer: > 5,000 followers; mass_follower: following > 1,500; else real)",
         "share", A, -1 if _cls == "suspicious" else 0)
_add("audience_fake_share", "Estimated fake follower share",
     "the sample's share of fake accounts estimated from the follower scorer's probabilities "
     "by EM on the prior (Saerens-Latinne-Decaestecker; models.quantification)", "share", A, -1,
     conversion_constraint=True)
_add("audience_fake_share_low", "Estimated fake follower share, lower bound (90%)",
     "share - sqrt((1.645 * sampling error)^2 + off-domain error^2), clipped to [0, 1]; "
     "spans every quantification method's estimate when the domain check fails", "share", A, -1)
_add("audience_fake_share_high", "Estimated fake follower share, upper bound (90%)",
     "share + sqrt((1.645 * sampling error)^2 + off-domain error^2), clipped to [0, 1]; "
     "spans every quantification method's estimate when the domain check fails", "share", A, -1)
_add("audience_domain_drift", "How unlike the labelled accounts the sample is",
     "largest over account fields of the Hellinger distance between the sample's histogram and "
     "the labelled fake/real mix at the estimated share, minus sampling noise; > 0.15 fails "
     "the domain check", "distance", A)

# --- niche ----------------------------------------------------------------------------------
for _niche in NICHES:
    _add(f"niche_share_{_niche}", f"Share of {_niche} in the creator's content",
         "mean of lexicon share and normalised squared centroid similarity from bio, captions "
         "and hashtags; blended 50/50 with the declared niche when given", "share", "niche")
_add("niche_top_share", "Share of the main niche", "max over niches of niche_share", "share",
     "niche")
_add("niche_concentration", "Niche focus (Herfindahl)", "sum over niches of niche_share^2",
     "index", "niche")
_add("niche_known_tokens", "Known words in the content",
     "tokens of bio + captions found in the fitted vocabulary", "tokens", "niche")
_add("niche_declared_agrees_with_content", "Declared niche matches the content",
     "1 if the declared niche is the content's main niche, 0 if not", "flag", "niche")

# --- campaign -------------------------------------------------------------------------------
C = "campaign"
_add("campaign_niche_code", "Campaign niche", "index in the niche taxonomy " + "/".join(NICHES),
     "code", C)
_add("campaign_niche_share", "Creator's share of the campaign's niche",
     "niche_share of the campaign's niche", "share", C, 1, conversion_constraint=True)
_add("campaign_niche_is_top", "Campaign niche is the creator's main niche",
     "1 if the campaign niche has the creator's largest niche_share", "flag", C, 1,
     conversion_constraint=True)
_add("brief_similarity", "Similarity of the content to the campaign brief",
     "cosine of TF-IDF vectors (bio + captions before the cutoff vs brief)", "cosine", C, 1,
     conversion_constraint=True)
_add("country_match", "Creator country among the campaign's target countries",
     "1 if creators.country is in campaigns.target_countries, 0 if not", "flag", C, 1,
     conversion_constraint=True)
_add("log_product_price", "Product price (log)", "ln(1 + product_price)", "log currency", C)
_add("compensation_code", "Compensation model",
     "index in " + "/".join(COMPENSATIONS), "code", C)
_add("log_cost", "Cost of the collaboration (log)", "ln(1 + cost)", "log currency", C)
_add("repeat_partnerships", "Earlier collaborations with the same brand",
     "collaborations of the creator with the brand whose campaign started before this one",
     "collaborations", C, 1, conversion_constraint=True)
_add("campaign_duration_days", "Campaign duration", "end_date - start_date", "days", C)

FEATURES: dict[str, FeatureSpec] = {spec.name: spec for spec in _SPECS}

# --- derived by the models ------------------------------------------------------------------
# Not pipeline outputs: the scoring bundle adds them from the risk model's prediction before
# the conversion model (models.bundle), so they are catalogued apart from FEATURES.
PREDICTED_FAKE_SHARE = "predicted_fake_share"
EXPOSURE_FEATURE = "estimated_real_followers"
DERIVED_FEATURES: dict[str, FeatureSpec] = {spec.name: spec for spec in (
    FeatureSpec(PREDICTED_FAKE_SHARE, "Estimated fake follower share (risk model)",
                "the fake-follower risk model's fake share as of the campaign start", "share",
                A, -1, conversion_constraint=True),
    FeatureSpec(EXPOSURE_FEATURE, "Estimated real followers (followers x (1 - fake share))",
                "followers * (1 - predicted_fake_share): the conversion model's exposure",
                "accounts", A),
)}


def feature_labels() -> dict[str, tuple[str, str, str]]:
    """(label, family, unit) of every catalogued column, derived ones included."""
    return {name: (spec.label, spec.family, spec.unit)
            for name, spec in {**FEATURES, **DERIVED_FEATURES}.items()}


def conversion_constraints(columns) -> dict[str, int]:
    """The conversion model's monotone constraints for these columns (catalogue's
    `conversion_constraint`): {column: +1 or -1}."""
    specs = {**FEATURES, **DERIVED_FEATURES}
    return {c: specs[c].monotone for c in columns
            if c in specs and specs[c].conversion_constraint}


def model_inputs(columns) -> list[str]:
    """The columns that models may learn from (registry's `model_input`; unknown names kept)."""
    return [c for c in columns if c not in FEATURES or FEATURES[c].model_input]
CAMPAIGN_FEATURE_NAMES = tuple(s.name for s in _SPECS if s.family == C)
CREATOR_FEATURE_NAMES = tuple(s.name for s in _SPECS if s.family != C)
COLLABORATION_FEATURE_NAMES = CREATOR_FEATURE_NAMES + CAMPAIGN_FEATURE_NAMES
