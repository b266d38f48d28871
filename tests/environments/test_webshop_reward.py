"""WebShop's reward and its string matching, checked on hand-worked examples."""

import pytest

from environments.webshop.fuzzy import normalize_color, token_set_ratio, type_nouns
from environments.webshop.reward import get_reward, type_reward

POLO = {
    "asin": "B0TEST0001", "query": "men's polo shirt", "product_category": "Clothing › Men › Shirts",
    "name": "Acme Slim Fit Polo Shirt", "title": "Acme Slim Fit Polo Shirt", "price": 30.0,
    "attributes": ["slim fit", "machine washable"], "features": ["Soft cotton pique"],
    "description": "A polo shirt that is breathable.", "options": {"color": ["navy", "black"],
                                                                  "size": ["small", "large"]},
}
GOAL = {"query": "men's polo shirt", "product_category": "Clothing › Men › Shirts", "name": "Acme Slim Fit Polo Shirt",
        "attributes": ["slim fit", "breathable", "short sleeve"], "goal_options": {"color": "navy", "size": "large"},
        "price_upper": 40.0}


def test_token_set_ratio_hand_worked():
    # "x large" vs "large": the intersection "large" equals one side -> 100 (a subset always scores 100).
    assert token_set_ratio("x-large", "large") == 100
    # no shared token: ratio("navy", "black") = 2*1/9 -> 22
    assert token_set_ratio("navy", "black") == 22
    # sect "machine"; "machine washable" vs "machine wash" share 12 chars: 2*12/28 = 0.857 -> 86
    assert token_set_ratio("machine washable", "machine wash") == 86
    assert token_set_ratio("", "anything") == 0


def test_normalize_color_follows_webshop_order():
    assert normalize_color("navy blue") == "blue"  # "blue" comes before "navy" in WebShop's list
    assert normalize_color("large") == "large"


def test_type_nouns_drop_descriptive_words():
    assert type_nouns("Acme Slim Fit Polo Shirt") == {"acme", "fit", "polo", "shirt"}


def test_partial_reward_counts_attributes_options_and_price():
    # attributes: "slim fit" (attribute list) and "breathable" (description) match, "short sleeve" does not -> 2
    # options: navy matches, small != large -> 1; price 30 <= 40 -> 1; total (2 + 1 + 1) / (3 + 2 + 1)
    score, info = get_reward(POLO, GOAL, 30.0, {"color": "navy", "size": "small"}, verbose=True)
    assert score == pytest.approx(4 / 6)
    assert (info["attribute_matches"], info["option_matches"], info["price_ok"], info["r_type"]) == (2, 1, True, 1.0)
    assert get_reward(POLO, GOAL, 45.0, {"color": "navy", "size": "small"}) == pytest.approx(3 / 6)


def test_full_reward_needs_everything():
    goal = {**GOAL, "attributes": ["slim fit", "machine washable"]}
    assert get_reward(POLO, goal, 30.0, {"color": "navy", "size": "large"}) == 1.0
    assert get_reward(POLO, goal, 30.0, {}) == pytest.approx(3 / 5)


def test_type_reward_levels():
    hoodie = {**POLO, "query": "hoodie", "product_category": "Clothing › Men › Hoodies", "name": "Zeta Pullover Hoodie"}
    assert type_reward(hoodie, GOAL)["r_type"] == 0.0  # no shared noun at all
    assert get_reward(hoodie, {**GOAL, "attributes": ["slim fit"]}, 30.0, {"color": "navy", "size": "large"}) == 0.0
    goal5 = {**GOAL, "name": "Acme Bolt Fit Polo Shirt"}  # nouns: acme bolt fit polo shirt
    kettle = {**POLO, "query": "kettle", "product_category": "Home › Kitchen", "name": "Acme Kettle"}
    assert type_reward(kettle, goal5) == {"r_type": 0.5, "query_match": False, "category_match": False,
                                          "title_score": 0.2}
    same_aisle = {**kettle, "product_category": "Clothing › Men › Kettles"}  # shares Clothing and Men
    assert type_reward(same_aisle, goal5)["r_type"] == 1.0
