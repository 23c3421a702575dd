"""Niche vocabulary and the captions, bios, briefs and comments built from it.

Each niche of the taxonomy has its own words and hashtags, so niche fit can be learned from
text. Text is assembled from sampled pieces with numpy object arrays (no per-row Python loop
beyond the element-wise string concatenation).
"""
from __future__ import annotations

import numpy as np

from data.contract import NICHES

NICHE_WORDS: dict[str, tuple[str, ...]] = {
    "beauty": ("skincare", "serum", "makeup", "lipstick", "foundation", "glow", "moisturizer",
               "mascara", "routine", "spf", "concealer", "blush", "haircare", "nails"),
    "fashion": ("outfit", "ootd", "dress", "sneakers", "denim", "streetwear", "lookbook",
                "jacket", "style", "vintage", "handbag", "tailoring", "runway", "capsule wardrobe"),
    "fitness": ("workout", "gym", "squat", "protein", "cardio", "hiit", "deadlift", "mobility",
                "personal best", "training plan", "abs", "stretching", "kettlebell", "recovery"),
    "food": ("recipe", "dinner", "pasta", "baking", "brunch", "vegan bowl", "dessert", "sourdough",
             "street food", "spices", "meal prep", "chocolate", "ramen", "homemade"),
    "travel": ("itinerary", "flight", "beach", "hotel", "backpacking", "road trip", "passport",
               "sunset", "hidden gem", "island", "city break", "hiking trail", "wanderlust",
               "airbnb"),
    "home": ("interior", "decor", "living room", "diy", "renovation", "plants", "cozy corner",
             "kitchen makeover", "organizing", "furniture", "candles", "bedroom", "shelf styling",
             "paint"),
    "parenting": ("toddler", "newborn", "mom life", "dad life", "bedtime", "family", "school run",
                  "pregnancy", "kids activities", "nursery", "breastfeeding", "playtime",
                  "parenting tips", "baby"),
    "tech": ("smartphone", "laptop", "setup", "unboxing", "gadget", "review", "headphones",
             "keyboard", "coding", "ai", "smart home", "camera", "specs", "benchmark"),
    "gaming": ("gameplay", "stream", "fps", "console", "speedrun", "ranked", "esports", "loot",
               "boss fight", "controller", "patch notes", "twitch", "rpg", "clutch"),
    "pets": ("puppy", "dog", "cat", "kitten", "vet", "pet food", "walkies", "adoption", "paws",
             "grooming", "rescue", "chew toy", "good boy", "litter"),
    "sports": ("match", "football", "basketball", "tennis", "marathon", "goal", "season",
               "championship", "cycling", "training day", "highlights", "team", "race", "coach"),
    "finance": ("investing", "budget", "savings", "stocks", "etf", "crypto", "passive income",
                "retirement", "credit score", "side hustle", "dividends", "money tips", "debt free",
                "compound interest"),
    "lifestyle": ("morning routine", "daily vlog", "self care", "weekend", "coffee", "journal",
                  "productivity", "aesthetic", "day in my life", "mindset", "wellness", "reset",
                  "cozy", "habits"),
    "sustainability": ("zero waste", "recycling", "thrifted", "eco friendly", "compost",
                       "plastic free", "climate", "upcycling", "slow fashion", "reusable",
                       "solar", "plant based", "secondhand", "low impact"),
}
NICHE_HASHTAGS: dict[str, tuple[str, ...]] = {
    "beauty": ("#skincare", "#makeup", "#beautytips", "#glowup", "#skincareroutine", "#mua"),
    "fashion": ("#ootd", "#fashion", "#streetstyle", "#outfitinspo", "#style", "#lookbook"),
    "fitness": ("#fitness", "#gym", "#workout", "#fitfam", "#legday", "#homeworkout"),
    "food": ("#foodie", "#recipe", "#homecooking", "#foodporn", "#baking", "#easyrecipes"),
    "travel": ("#travel", "#wanderlust", "#travelgram", "#vacation", "#traveltips", "#explore"),
    "home": ("#homedecor", "#interiordesign", "#diyhome", "#homeinspo", "#cozyhome", "#renovation"),
    "parenting": ("#momlife", "#parenting", "#dadlife", "#toddlerlife", "#familytime", "#newborn"),
    "tech": ("#tech", "#gadgets", "#techreview", "#setup", "#unboxing", "#smartphone"),
    "gaming": ("#gaming", "#gamer", "#twitch", "#esports", "#gameplay", "#ps5"),
    "pets": ("#dogsofinstagram", "#catsofinstagram", "#petlover", "#puppy", "#adoptdontshop",
             "#pets"),
    "sports": ("#sports", "#football", "#running", "#matchday", "#basketball", "#training"),
    "finance": ("#personalfinance", "#investing", "#money", "#financialfreedom", "#stocks",
                "#budgeting"),
    "lifestyle": ("#lifestyle", "#selfcare", "#dayinmylife", "#vlog", "#morningroutine",
                  "#aesthetic"),
    "sustainability": ("#sustainability", "#zerowaste", "#ecofriendly", "#thrifted",
                       "#slowfashion", "#plasticfree"),
}
CAPTION_OPENERS = np.array([
    "New post:", "Today's favourite:", "Can't stop thinking about this", "Quick one:",
    "Sharing my", "Honest thoughts on", "A little update:", "Obsessed with this", "Round two of",
    "Weekend mood:", "Let's talk about", "Finally trying", "",
], dtype=object)
SPONSORED_TAGS = np.array(["#ad", "#sponsored", "#partner", "Paid partnership", "#gifted #ad"],
                          dtype=object)
CALLS_TO_ACTION = np.array([
    " Link in bio!", " Use my code for 15% off!", " Shop now via the link in bio.",
    " Swipe up to buy!", " Tap the link to get yours.",
], dtype=object)
BIO_TEMPLATES = np.array([
    "{a} & {b} | sharing my {c}", "{a} lover. {b} every week", "Your daily dose of {a} and {b}",
    "{a} | {b} | {c}", "Creator. {a}, {b} and a bit of {c}", "Talking {a} & {c}",
], dtype=object)
BIO_SUFFIXES = np.array(["", " ✨", " 📩 collabs via email", " 📍", " 🌿", " 💬 DM for collabs"],
                        dtype=object)

# Engagement-pod comments: generic, interchangeable, repeated across posts (domain.md signals).
GENERIC_COMMENTS = np.array([
    "Nice!", "🔥🔥", "love this", "Amazing ❤️", "So good!", "👏👏👏", "Great post!", "Wow",
    "😍😍", "Beautiful", "Love it!", "Awesome 🙌", "🔥", "Nice pic", "Yesss",
], dtype=object)
# Bot comments on bought-follower accounts.
SPAM_COMMENTS = np.array([
    "Promote it on @growth_hub 🚀", "DM us for a collab 💰", "Nice feed! Check my page",
    "Want more followers? Link in bio", "Send pic to our page ⭐", "Follow back?",
], dtype=object)
GENUINE_COMMENT_TEMPLATES = np.array([
    "Where did you get the {w}?", "Your {w} posts are the best", "Trying this {w} tomorrow!",
    "Can you do a full video on {w}?", "I needed this {w} advice today, thank you",
    "How long have you been into {w}?", "The {w} part is so helpful", "More {w} content please!",
], dtype=object)

_WORDS = [np.array(NICHE_WORDS[n], dtype=object) for n in NICHES]
_TAGS = [np.array(NICHE_HASHTAGS[n], dtype=object) for n in NICHES]


def _pick(rng: np.random.Generator, pools: list[np.ndarray], niche_codes: np.ndarray) -> np.ndarray:
    """One element from pools[niche] per row (vectorised: pools have equal sizes per kind)."""
    sizes = np.array([len(p) for p in pools])
    stacked = np.concatenate(pools)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = (rng.random(len(niche_codes)) * sizes[niche_codes]).astype("int64")
    return stacked[offsets[niche_codes] + position]


def niche_words(rng: np.random.Generator, niche_codes: np.ndarray) -> np.ndarray:
    return _pick(rng, _WORDS, niche_codes)


def niche_hashtags(rng: np.random.Generator, niche_codes: np.ndarray) -> np.ndarray:
    return _pick(rng, _TAGS, niche_codes)


def captions(rng: np.random.Generator, niche_codes: np.ndarray, sponsored: np.ndarray,
             product_niche_codes: np.ndarray, brand_handles: np.ndarray,
             call_to_action: np.ndarray) -> np.ndarray:
    """Captions: opener + two niche words + hashtags; sponsored ones name the brand and the
    product's niche words, with a disclosure tag and sometimes a call to action."""
    n = len(niche_codes)
    openers = np.array([o + " " if o else "" for o in CAPTION_OPENERS], dtype=object)
    text = (openers[rng.integers(0, len(openers), n)] + niche_words(rng, niche_codes) + " and "
            + niche_words(rng, niche_codes) + " " + niche_hashtags(rng, niche_codes) + " "
            + niche_hashtags(rng, niche_codes))
    extra_tag = np.flatnonzero(rng.random(n) < 0.5)
    text[extra_tag] = text[extra_tag] + " " + niche_hashtags(rng, niche_codes[extra_tag])
    paid = np.flatnonzero(sponsored)
    product = product_niche_codes[paid]
    text[paid] = (text[paid] + " | with @" + brand_handles[paid] + ": "
                  + niche_words(rng, product) + " " + niche_hashtags(rng, product) + " "
                  + SPONSORED_TAGS[rng.integers(0, len(SPONSORED_TAGS), len(paid))])
    cta = np.flatnonzero(sponsored & call_to_action)
    text[cta] = text[cta] + CALLS_TO_ACTION[rng.integers(0, len(CALLS_TO_ACTION), len(cta))]
    return text


def bios(rng: np.random.Generator, primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    n = len(primary)
    a, b, c = niche_words(rng, primary), niche_words(rng, secondary), niche_words(rng, primary)
    templates = BIO_TEMPLATES[rng.integers(0, len(BIO_TEMPLATES), n)]
    suffix = BIO_SUFFIXES[rng.integers(0, len(BIO_SUFFIXES), n)]
    filled = [t.format(a=x, b=y, c=z) for t, x, y, z in zip(templates, a, b, c, strict=True)]
    return np.asarray(filled, dtype=object) + " " + niche_hashtags(rng, primary) + suffix


def brief(rng: np.random.Generator, niche_code: int, brand: str, price: float,
          countries: str) -> str:
    """One campaign brief (campaigns are drawn one at a time from their own stream)."""
    codes = np.full(4, niche_code)
    words = niche_words(rng, codes)
    tags = niche_hashtags(rng, codes[:2])
    audience = ("young adults", "parents", "students", "professionals", "enthusiasts")[
        rng.integers(0, 5)]
    return (f"{brand} launches a new {words[0]} product (around {price:.0f}) for {audience} "
            f"into {words[1]} and {words[2]}. Show it in your {words[3]} content, authentic tone. "
            f"Markets: {countries.replace(';', ', ')}. Use {tags[0]} {tags[1]}.")


def genuine_comments(rng: np.random.Generator, niche_codes: np.ndarray) -> np.ndarray:
    """Specific comments that mention the niche (what real followers write)."""
    heads = np.array([t.split("{w}")[0] for t in GENUINE_COMMENT_TEMPLATES], dtype=object)
    tails = np.array([t.split("{w}")[1] for t in GENUINE_COMMENT_TEMPLATES], dtype=object)
    template = rng.integers(0, len(GENUINE_COMMENT_TEMPLATES), len(niche_codes))
    return heads[template] + niche_words(rng, niche_codes) + tails[template]


_BRAND_STEMS = ("Nova", "Lumi", "Verde", "Atlas", "Kiro", "Sol", "Brio", "Mira", "Orbit", "Pura",
                "Zest", "Fable")
_BRAND_SUFFIX = {
    "beauty": "Beauty", "fashion": "Wear", "fitness": "Fit", "food": "Kitchen", "travel": "Trips",
    "home": "Home", "parenting": "Kids", "tech": "Tech", "gaming": "Games", "pets": "Pets",
    "sports": "Sport", "finance": "Money", "lifestyle": "Life", "sustainability": "Eco",
}
BRANDS_PER_NICHE = 8


def brand_names(niche_codes: np.ndarray, brand_index: np.ndarray) -> np.ndarray:
    """Brand `brand_index` of each niche, e.g. 'Lumi Beauty' (a fixed pool per niche)."""
    stems = np.asarray(_BRAND_STEMS, dtype=object)
    suffix = np.asarray([_BRAND_SUFFIX[n] for n in NICHES], dtype=object)
    stem = stems[(np.asarray(niche_codes) * 5 + np.asarray(brand_index)) % len(stems)]
    return stem + " " + suffix[np.asarray(niche_codes)]


def brand_handles(niche_codes: np.ndarray, brand_index: np.ndarray) -> np.ndarray:
    """Social handle of each brand, e.g. 'lumibeauty'."""
    codes = np.repeat(np.arange(len(NICHES)), BRANDS_PER_NICHE)
    pool = brand_names(codes, np.tile(np.arange(BRANDS_PER_NICHE), len(NICHES)))
    handles = np.array([name.lower().replace(" ", "") for name in pool], dtype=object)
    return handles[np.asarray(niche_codes) * BRANDS_PER_NICHE + np.asarray(brand_index)]
