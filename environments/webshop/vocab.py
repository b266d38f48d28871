"""The vocabulary the catalogue generator draws from: categories, product types, attributes, options.

Modelled on WebShop's five Amazon categories, widened to ten so that two whole categories
(garden, pets) can be held out for the ``valid_unseen`` split. Each product type carries its
search query (WebShop's ``query`` field, used by the type reward), its breadcrumb, the noun phrase
titles end with, its option pools and a price range in dollars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COLORS = ["black", "white", "navy", "grey", "red", "blue", "green", "beige", "brown", "pink", "purple",
          "yellow", "olive", "khaki", "burgundy", "teal", "charcoal", "ivory", "orange", "silver", "coral",
          "lavender", "maroon", "tan", "turquoise"]
APPAREL_SIZES = ["x-small", "small", "medium", "large", "x-large", "xx-large"]
SHOE_SIZES = ["6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"]
PACKS = ["pack of 1", "pack of 2", "pack of 3", "pack of 4", "pack of 6", "pack of 12"]
BED_SIZES = ["twin", "full", "queen", "king", "california king"]
SHADES = ["nude", "rose", "berry", "mauve", "plum", "wine", "peach", "bronze", "copper", "cranberry"]
SCENTS = ["lavender scent", "citrus", "eucalyptus", "coconut", "vanilla", "unscented", "sandalwood",
          "rosemary mint", "cucumber"]
VOLUMES = ["1.7 fl oz", "3.4 fl oz", "8 fl oz", "12 fl oz", "16.9 fl oz", "33.8 fl oz"]


@dataclass(frozen=True)
class ProductType:
    query: str
    crumbs: tuple[str, ...]
    noun: str
    options: dict[str, list[str]]
    price: tuple[float, float]
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    name: str
    root: str
    attributes: tuple[str, ...]
    types: tuple[ProductType, ...] = field(default=())


def _t(query: str, crumbs: str, noun: str, options: dict[str, list[str]], price: tuple[float, float],
       attributes: str) -> ProductType:
    return ProductType(query, tuple(c.strip() for c in crumbs.split(">")), noun, options, price,
                       tuple(a.strip() for a in attributes.split(",")))


def _c(name: str, root: str, attributes: str, *types: ProductType) -> Category:
    return Category(name, root, tuple(a.strip() for a in attributes.split(",")), types)


CATEGORIES: tuple[Category, ...] = (
    _c("fashion", "Clothing, Shoes & Jewelry", "machine washable, hand wash only, quick drying, everyday wear, "
       "polyester spandex, imported",
       _t("men's polo shirt", "Men > Clothing > Shirts > Polos", "Polo Shirt",
          {"color": COLORS, "size": APPAREL_SIZES}, (12, 45),
          "short sleeve, slim fit, regular fit, cotton pique, moisture wicking, button placket"),
       _t("women's t-shirt", "Women > Clothing > Tops & Tees > T-Shirts", "T-Shirt",
          {"color": COLORS, "size": APPAREL_SIZES}, (8, 30),
          "crew neck, v-neck, short sleeve, long sleeve, soft cotton, relaxed fit"),
       _t("men's jeans", "Men > Clothing > Jeans", "Jeans",
          {"color": ["blue", "black", "grey", "indigo", "khaki"],
           "size": ["28w x 30l", "30w x 30l", "32w x 30l", "32w x 32l", "34w x 32l", "36w x 32l", "38w x 34l"]},
          (25, 70), "straight leg, slim fit, stretch denim, relaxed fit, button fly, five pocket"),
       _t("women's dress", "Women > Clothing > Dresses", "Dress", {"color": COLORS, "size": APPAREL_SIZES},
          (20, 80), "sleeveless, maxi length, midi length, floral print, a-line, long sleeve"),
       _t("running shoes", "Men > Shoes > Athletic > Running", "Running Shoes",
          {"color": COLORS, "size": SHOE_SIZES}, (40, 130),
          "lightweight, breathable mesh, non slip, rubber sole, memory foam, lace up"),
       _t("hoodie", "Men > Clothing > Fashion Hoodies & Sweatshirts", "Hoodie",
          {"color": COLORS, "size": APPAREL_SIZES}, (20, 60),
          "fleece lined, pullover, zip up, kangaroo pocket, drawstring hood, heavyweight"),
       _t("women's leggings", "Women > Clothing > Leggings", "Leggings", {"color": COLORS, "size": APPAREL_SIZES},
          (12, 40), "high waist, tummy control, squat proof, yoga, four way stretch, side pockets")),
    _c("beauty", "Beauty & Personal Care", "cruelty free, travel size, dermatologist tested, paraben free, "
       "natural ingredients, easy to use",
       _t("face moisturizer", "Skin Care > Face > Creams & Moisturizers", "Face Moisturizer",
          {"scent": SCENTS, "size": VOLUMES}, (10, 45),
          "hyaluronic acid, oil free, fragrance free, sensitive skin, spf 30, anti aging"),
       _t("shampoo", "Hair Care > Shampoo & Conditioner > Shampoos", "Shampoo", {"scent": SCENTS, "size": VOLUMES},
          (8, 30), "sulfate free, dry hair, color treated hair, argan oil, volumizing, tea tree oil"),
       _t("lipstick", "Makeup > Lips > Lipstick", "Lipstick", {"color": SHADES}, (6, 25),
          "long lasting, matte finish, vegan, moisturizing, highly pigmented, satin finish"),
       _t("eyeshadow palette", "Makeup > Eyes > Eyeshadow", "Eyeshadow Palette", {"color": SHADES}, (10, 40),
          "shimmer, matte finish, highly pigmented, long lasting, easy to blend, mirror included"),
       _t("hair dryer", "Hair Care > Styling Tools > Hair Dryers", "Hair Dryer",
          {"color": ["black", "white", "pink", "purple", "silver", "teal"]}, (25, 120),
          "ionic, lightweight, fast drying, low noise, diffuser included, ceramic"),
       _t("body wash", "Bath & Body > Cleansers > Body Wash", "Body Wash", {"scent": SCENTS, "size": VOLUMES},
          (6, 25), "moisturizing, dry skin, shea butter, sulfate free, gentle formula, vitamin e")),
    _c("grocery", "Grocery & Gourmet Food", "gluten free, non gmo, kosher, resealable bag, shelf stable, gift set",
       _t("coffee beans", "Beverages > Coffee > Whole Bean", "Whole Bean Coffee",
          {"flavor": ["french roast", "colombian", "hazelnut", "vanilla", "breakfast blend", "espresso"],
           "size": ["12 ounce", "2 pound", "5 pound"]}, (10, 40),
          "medium roast, dark roast, single origin, fair trade, organic, decaf"),
       _t("protein bars", "Snack Foods > Bars > Protein Bars", "Protein Bars",
          {"flavor": ["peanut butter", "cookie dough", "chocolate chip", "birthday cake", "almond", "lemon"],
           "size": PACKS}, (15, 45), "low sugar, high protein, keto friendly, plant based, 20g protein, low carb"),
       _t("green tea", "Beverages > Tea > Green Tea", "Green Tea Bags",
          {"flavor": ["jasmine", "ginger", "honey", "matcha", "peach", "original"], "size": PACKS}, (5, 25),
          "organic, decaf, individually wrapped, antioxidant rich, unsweetened, loose leaf"),
       _t("potato chips", "Snack Foods > Chips & Crisps > Potato Chips", "Potato Chips",
          {"flavor": ["sea salt", "barbecue", "sour cream and onion", "salt and vinegar", "jalapeno"],
           "size": PACKS}, (8, 30), "kettle cooked, baked, low sodium, vegan, individual bags, thick cut"),
       _t("olive oil", "Pantry Staples > Cooking Oils > Olive Oil", "Extra Virgin Olive Oil",
          {"size": ["16.9 fl oz", "25.3 fl oz", "33.8 fl oz", "101 fl oz"]}, (10, 45),
          "cold pressed, organic, single origin, glass bottle, first harvest, unfiltered"),
       _t("dark chocolate", "Snack Foods > Candy & Chocolate > Chocolate Bars", "Dark Chocolate Bar",
          {"flavor": ["sea salt", "almond", "orange", "raspberry", "mint", "chili"], "size": PACKS}, (6, 30),
          "vegan, fair trade, low sugar, dairy free, 70 percent cacao, single origin")),
    _c("electronics", "Electronics", "easy to use, high performance, durable, compact design, travel friendly",
       _t("wireless earbuds", "Headphones > Earbud Headphones", "Wireless Earbuds", {"color": COLORS[:12]},
          (20, 150), "noise cancelling, bluetooth 5.3, water resistant, charging case, long battery life, "
          "built in microphone"),
       _t("wall charger", "Cell Phones & Accessories > Chargers > Wall Chargers", "Fast Charger",
          {"style": ["20w", "30w", "45w", "65w", "100w"], "color": ["black", "white", "blue"]}, (10, 45),
          "usb c, fast charging, foldable plug, dual port, overheat protection, gan technology"),
       _t("bluetooth speaker", "Portable Audio & Video > Speakers", "Bluetooth Speaker", {"color": COLORS[:12]},
          (25, 150), "waterproof, long battery life, stereo sound, deep bass, portable, hands free calling"),
       _t("usb flash drive", "Computers & Accessories > Data Storage > USB Flash Drives", "USB Flash Drive",
          {"capacity": ["32gb", "64gb", "128gb", "256gb", "512gb"], "size": PACKS[:4]}, (6, 40),
          "usb 3.0, high speed, keychain design, metal casing, plug and play, dual connector"),
       _t("hdmi cable", "Accessories & Supplies > Cables > HDMI Cables", "HDMI Cable",
          {"size": ["3 feet", "6 feet", "10 feet", "15 feet", "25 feet"]}, (6, 30),
          "4k, high speed, braided, gold plated, ethernet, 8k"),
       _t("wireless mouse", "Computers & Accessories > Keyboards & Mice > Mice", "Wireless Mouse",
          {"color": COLORS[:12]}, (10, 60),
          "ergonomic, silent click, rechargeable, bluetooth, adjustable dpi, usb receiver")),
    _c("furniture", "Furniture", "easy assembly, sturdy construction, modern design, living room, space saving",
       _t("office chair", "Home Office Furniture > Chairs > Desk Chairs", "Office Chair",
          {"color": ["black", "grey", "white", "blue", "pink", "brown"]}, (60, 300),
          "ergonomic, lumbar support, adjustable height, swivel, mesh back, padded armrests"),
       _t("bookshelf", "Living Room Furniture > Bookcases", "Bookshelf",
          {"color": ["black", "white", "brown", "walnut", "oak"], "size": ["3 tier", "4 tier", "5 tier"]},
          (40, 200), "solid wood, industrial style, metal frame, open shelf, anti tip hardware, adjustable shelves"),
       _t("coffee table", "Living Room Furniture > Tables > Coffee Tables", "Coffee Table",
          {"color": ["black", "white", "brown", "walnut", "oak", "grey"]}, (50, 250),
          "storage shelf, solid wood, mid century modern, lift top, rustic, glass top"),
       _t("bar stools", "Kitchen & Dining Room Furniture > Bar Stools", "Bar Stools",
          {"color": ["black", "grey", "brown", "white", "green"], "size": ["set of 2", "set of 3", "set of 4"]},
          (60, 250), "counter height, swivel, back support, footrest, faux leather, adjustable height"),
       _t("tv stand", "Living Room Furniture > TV & Media Furniture", "TV Stand",
          {"color": ["black", "white", "brown", "oak"], "size": ["55 inch", "65 inch", "75 inch"]}, (60, 300),
          "storage cabinet, cable management, engineered wood, led lights, farmhouse, sliding doors"),
       _t("bed frame", "Bedroom Furniture > Beds & Frames", "Bed Frame",
          {"size": BED_SIZES, "color": ["black", "white", "grey", "brown"]}, (100, 500),
          "noise free, no box spring needed, metal frame, upholstered, headboard, under bed storage")),
    _c("home", "Home & Kitchen", "easy to clean, long lasting, gift idea, everyday use, premium quality",
       _t("frying pan", "Kitchen & Dining > Cookware > Frying Pans", "Frying Pan",
          {"size": ["8 inch", "10 inch", "12 inch"], "color": ["black", "grey", "red", "blue", "silver"]},
          (15, 70), "non stick, dishwasher safe, induction compatible, oven safe, pfoa free, stainless steel"),
       _t("sheet set", "Bedding > Sheets & Pillowcases > Sheet Sets", "Sheet Set",
          {"size": BED_SIZES, "color": COLORS}, (20, 90),
          "deep pocket, microfiber, breathable, wrinkle free, egyptian cotton, cooling"),
       _t("throw pillow covers", "Home Decor > Decorative Pillows > Pillow Covers", "Throw Pillow Covers",
          {"size": ["16 x 16 inch", "18 x 18 inch", "20 x 20 inch"], "color": COLORS}, (8, 30),
          "velvet, hidden zipper, soft, linen, boho, farmhouse"),
       _t("water bottle", "Kitchen & Dining > Storage > Water Bottles", "Water Bottle",
          {"capacity": ["18 oz", "24 oz", "32 oz", "40 oz"], "color": COLORS}, (10, 45),
          "insulated, bpa free, leak proof, stainless steel, keeps drinks cold, wide mouth"),
       _t("coffee maker", "Kitchen & Dining > Small Appliances > Coffee Makers", "Coffee Maker",
          {"color": ["black", "white", "red", "silver"]}, (30, 200),
          "programmable, 12 cup, auto shut off, glass carafe, single serve, reusable filter"),
       _t("bath towel set", "Bath > Towels > Bath Towels", "Bath Towel Set",
          {"color": COLORS, "size": ["set of 2", "set of 4", "set of 6", "set of 8"]}, (20, 70),
          "quick drying, highly absorbent, 100 percent cotton, soft, hotel quality, lightweight")),
    _c("sports", "Sports & Outdoors", "outdoor use, heavy duty, easy to carry, all weather, beginner friendly",
       _t("yoga mat", "Exercise & Fitness > Yoga > Mats", "Yoga Mat",
          {"size": ["1/4 inch", "1/3 inch", "1/2 inch"], "color": COLORS}, (15, 60),
          "non slip, extra thick, eco friendly, carrying strap, tpe, lightweight"),
       _t("dumbbells", "Exercise & Fitness > Strength Training > Dumbbells", "Dumbbells",
          {"size": ["5 pounds", "10 pounds", "15 pounds", "20 pounds", "25 pounds", "30 pounds"]}, (20, 120),
          "neoprene, hex shape, rubber coated, adjustable, anti roll, sold as pair"),
       _t("camping tent", "Outdoor Recreation > Camping & Hiking > Tents", "Camping Tent",
          {"size": ["2 person", "4 person", "6 person", "8 person"], "color": ["green", "blue", "orange", "grey"]},
          (50, 250), "waterproof, easy setup, instant, rainfly, double layer, carry bag"),
       _t("hiking backpack", "Outdoor Recreation > Camping & Hiking > Backpacks", "Hiking Backpack",
          {"capacity": ["30l", "40l", "50l", "65l"], "color": COLORS[:12]}, (30, 120),
          "waterproof, lightweight, rain cover, hydration compatible, padded straps, multiple pockets"),
       _t("bike helmet", "Cycling > Helmets", "Bike Helmet", {"size": ["small", "medium", "large"],
                                                              "color": COLORS[:12]}, (25, 90),
          "adjustable, lightweight, led light, ventilated, detachable visor, cpsc certified")),
    _c("toys", "Toys & Games", "educational, gift idea, safe materials, for kids, non toxic",
       _t("building blocks set", "Building Toys > Building Sets", "Building Blocks Set",
          {"size": ["100 pieces", "250 pieces", "500 pieces", "1000 pieces"]}, (15, 80),
          "stem, compatible with major brands, creative, storage box, ages 6 and up, colorful"),
       _t("jigsaw puzzle", "Puzzles > Jigsaw Puzzles", "Jigsaw Puzzle",
          {"size": ["300 pieces", "500 pieces", "1000 pieces", "1500 pieces"]}, (10, 35),
          "landscape, thick pieces, poster included, family game, anti glare, animals"),
       _t("remote control car", "Hobbies > Remote & App Controlled Vehicles > Cars", "Remote Control Car",
          {"color": ["red", "blue", "green", "black", "yellow", "orange"]}, (25, 100),
          "rechargeable battery, all terrain, high speed, 2.4 ghz, waterproof, led lights"),
       _t("plush toy", "Stuffed Animals & Plush Toys > Plush Figures", "Plush Toy",
          {"size": ["8 inch", "12 inch", "18 inch", "24 inch"], "color": ["brown", "white", "pink", "grey", "blue"]},
          (8, 35), "soft, huggable, machine washable, hypoallergenic, handmade, weighted"),
       _t("board game", "Games > Board Games", "Board Game", {}, (15, 60),
          "family game, strategy, 2 to 4 players, party game, ages 8 and up, cooperative")),
    _c("garden", "Patio, Lawn & Garden", "weather resistant, easy installation, rust resistant, outdoor use, durable",
       _t("garden hose", "Watering Equipment > Garden Hoses", "Garden Hose",
          {"size": ["25 feet", "50 feet", "75 feet", "100 feet"], "color": ["green", "blue", "black", "grey"]},
          (20, 80), "expandable, kink free, leak proof, lightweight, brass fittings, spray nozzle"),
       _t("solar pathway lights", "Outdoor Decor > Lighting > Pathway Lights", "Solar Pathway Lights",
          {"color": ["white", "yellow", "blue", "multicolor"], "size": PACKS[3:]}, (15, 60),
          "waterproof, auto on off, solar powered, stainless steel, led, warm light"),
       _t("planter pot", "Gardening & Lawn Care > Pots & Planters", "Planter Pot",
          {"size": ["6 inch", "8 inch", "10 inch", "12 inch"], "color": ["white", "black", "grey", "terracotta"]},
          (10, 50), "drainage hole, ceramic, indoor outdoor, saucer included, plastic, modern"),
       _t("pruning shears", "Gardening & Lawn Care > Hand Tools > Pruners", "Pruning Shears",
          {"color": ["red", "green", "orange", "black"]}, (10, 40),
          "sharp blade, ergonomic handle, bypass, stainless steel, safety lock, heavy duty"),
       _t("bird feeder", "Birding & Wildlife > Bird Feeders", "Bird Feeder",
          {"color": ["green", "black", "brown", "red"]}, (12, 50),
          "squirrel proof, hanging, weatherproof, easy to clean, large capacity, metal")),
    _c("pets", "Pet Supplies", "easy to clean, pet safe, non toxic, durable, for all breeds",
       _t("dog bed", "Dogs > Beds & Furniture > Beds", "Dog Bed", {"size": APPAREL_SIZES[1:5], "color": COLORS[:12]},
          (20, 90), "orthopedic, washable cover, non slip bottom, memory foam, waterproof liner, calming"),
       _t("cat litter", "Cats > Litter & Housebreaking > Cat Litter", "Cat Litter",
          {"size": ["10 pounds", "20 pounds", "40 pounds"]}, (10, 40),
          "clumping, unscented, dust free, odor control, low tracking, natural"),
       _t("dog leash", "Dogs > Collars, Harnesses & Leashes > Leashes", "Dog Leash",
          {"size": ["4 feet", "5 feet", "6 feet"], "color": COLORS[:12]}, (8, 30),
          "reflective, heavy duty, padded handle, nylon, retractable, hands free"),
       _t("cat tree", "Cats > Furniture > Cat Trees", "Cat Tree",
          {"size": ["32 inch", "48 inch", "60 inch"], "color": ["grey", "beige", "black", "brown"]}, (40, 160),
          "scratching posts, condo, hammock, plush perch, sturdy, multi level"),
       _t("dry dog food", "Dogs > Food > Dry", "Dry Dog Food",
          {"flavor": ["chicken and rice", "lamb and rice", "salmon and sweet potato", "beef"],
           "size": ["5 pound bag", "15 pound bag", "30 pound bag"]}, (15, 80),
          "grain free, high protein, small breed, no artificial flavors, real meat, puppy")),
)

UNSEEN_CATEGORIES = ("garden", "pets")
BRAND_HEADS = ["Ama", "Zen", "Nova", "Lumi", "Terra", "Vel", "Orla", "Kiro", "Bex", "Halo", "Mira", "Dax",
               "Sol", "Pure", "Wren", "Ivo", "Cora", "Tala", "Fenn", "Quill", "Rho", "Ember", "Juno", "Pax"]
BRAND_TAILS = ["tek", "ly", "wick", "core", "ford", "vana", "mo", "nest", "field", "bright", "line", "haus",
               "co", "lab", "works", "ora", "stone", "leaf"]
