"""WebShop's own data files (here: a tiny set written in their format) load into the same shop."""

import json

import pytest

import agentgym
from environments.webshop.original import load_original


def write_webshop_files(folder, human=True):
    categories = {"beauty": ("hair dryer", "Beauty › Hair Care › Dryers"),
                  "furniture": ("desk chair", "Home › Furniture › Chairs")}
    products, attributes, human_goals = [], {}, {}
    for i in range(40):
        category = "beauty" if i % 4 else "furniture"
        query, crumbs = categories[category]
        asin = f"B0ORIG{i:04d}"
        products.append({
            "asin": asin, "category": category, "query": query, "product_category": crumbs,
            "name": f"Brand{i} {'Ionic' if i % 2 else 'Quiet'} {query.title()}", "pricing": f"${10 + i}.99",
            "customization_options": {"Color": [{"value": "Black/White", "image": None}, {"value": "Pink"}]},
            "small_description": ["Fast drying" if i % 2 else "Low noise"], "full_description": "A product.",
            "average_rating": "4.5 out of 5 stars", "images": []})
        attributes[asin] = {"attributes": ["ionic" if i % 2 else "low noise"], "instruction": f"i need a {query}",
                            "instruction_attributes": ["ionic" if i % 2 else "low noise"]}
        human_goals[asin] = [{"instruction": f"I want a {'ionic' if i % 2 else 'low noise'} {query} in pink.",
                              "instruction_attributes": attributes[asin]["attributes"],
                              "instruction_options": ["pink"]}]
    (folder / "items_shuffle_1000.json").write_text(json.dumps(products))
    (folder / "items_ins_v2_1000.json").write_text(json.dumps(attributes))
    if human:
        (folder / "items_human_ins.json").write_text(json.dumps(human_goals))


def test_loader_converts_products_and_goals(tmp_path):
    write_webshop_files(tmp_path)
    products, goals = load_original(tmp_path)
    first = products[1]
    assert first["price"] == 11.99 and first["options"] == {"color": ["black | white", "pink"]}
    assert first["attributes"] == ["ionic"] and first["rating"] == 4.5
    assert {len(g) for g in goals.values()} == {27, 3, 10}  # furniture (alphabetically last) is held out
    assert all(g["category"] == "furniture" for g in goals["valid_unseen"])
    goal = goals["train"][0]
    assert goal["goal_options"] == ["pink"] and goal["instruction_text"].startswith("I want a ")
    assert "price lower than" in goal["instruction_text"]


@pytest.mark.parametrize("human", [True, False])
def test_env_on_original_files_expert_succeeds(tmp_path, human):
    write_webshop_files(tmp_path, human=human)
    env = agentgym.make("agentgym/WebShop-v0", split="valid_unseen", data_dir=str(tmp_path))
    try:
        assert len(env.unwrapped.task_ids()) == 10
        agentgym.check_env(env, n_random_actions=30, skip_gymnasium=True)
    finally:
        env.close()
