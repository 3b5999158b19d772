"""Six topics outdoors: the sea, a farm, a city, sport, a garden, a forest.

Notation as in ``topics.py``.
"""

SEA = {
    "nouns": {
        "person": "sailor captain fisherman/fishermen diver",
        "animal": "fish/fish gull dolphin crab whale seal",
        "food": "fish/fish",
        "vehicle": "boat ship yacht raft canoe",
        "tool": "rope anchor net oar compass",
        "thing": "sail flag shell bucket",
        "story": "map chart",
        "nature": "wave tide storm",
    },
    "places": "harbor:in island:on shore:on beach:on deck:on bay:in lighthouse:near",
    "verbs": """
        sail : person vehicle
        sail : person -> vehicle
        row : person -> vehicle
        steer : person -> vehicle
        tie : person -> rope net boat raft canoe flag sail
        catch/caught : person animal -> fish crab
        pull : person -> rope net anchor boat raft canoe
        lower : person -> anchor sail flag net
        raise : person -> anchor sail flag net
        swim/swam : animate
        dive : person animal
        drift : vehicle
        sink/sank : vehicle
        float : vehicle animal
        fish : person
        row : person
    """,
    "adjectives": """
        rough calm stormy : place nature
        deep distant : place
        leaky : vehicle
        salty : nature
    """,
}


FARM = {
    "nouns": {
        "person": "farmer shepherd",
        "animal": "cow horse sheep/sheep goat pig hen duck lamb donkey goose/geese chicken dog",
        "food": "egg corn* wheat*",
        "drink": "milk*",
        "fodder": "hay* grass* oats*",
        "vehicle": "tractor cart wagon",
        "tool": "bucket pitchfork",
        "thing": "fence gate saddle barrel",
    },
    "places": "barn:in field:in meadow:in stable:in pond:near farm:on yard:in",
    "verbs": """
        feed/fed : person -> animal
        milk : person -> cow goat
        harvest : person -> corn wheat hay
        plow/plowed : person horse -> field meadow
        herd : person dog -> animal
        ride/rode : person -> horse donkey tractor cart
        gather : person -> food animal thing
        chase : animal person -> animal
        load : person -> cart wagon tractor
        drive/drove : person -> vehicle
        graze : cow horse sheep goat lamb donkey
        bark : dog
    """,
    "adjectives": """
        muddy : place animal vehicle
        golden : food plant fodder
        wide : place
        fat : animal
    """,
}


CITY = {
    "nouns": {
        "person": "driver tourist shopkeeper mayor clerk guard passenger",
        "vehicle": "bus taxi train car bicycle tram",
        "thing": "ticket umbrella coin wallet newspaper sign",
        "story": "newspaper sign",
        "event": "parade festival",
    },
    "places": "street:on bridge:on market:at square:in station:at shop:in park:in office:in museum:in tower:near "
              "cafe:at",
    "verbs": """
        ride/rode : person -> bus train tram bicycle
        park : person -> vehicle
        cross : animate vehicle -> street bridge square road
        pay/paid : person -> for object food drink
        miss : person -> vehicle event
        deliver : person -> object food story
        rent : person -> vehicle room
        drive/drove : person
        hurry : person
        honk : bus taxi car
    """,
    "adjectives": """
        busy : place person
        narrow : place
        tall : place person plant
        modern : place machine vehicle
        late early : vehicle person
    """,
}


SPORT = {
    "nouns": {
        "person": "player coach runner swimmer referee goalkeeper champion",
        "thing": "ball bat racket glove whistle medal helmet goal trophy",
        "event": "match race game tournament",
    },
    "places": "stadium:at pitch:on track:on court:on pool:in gym:in",
    "verbs": """
        kick : person -> ball
        throw/threw : person -> ball stick stone
        catch/caught : person dog -> ball
        win/won : person -> event medal trophy
        score/scored : person -> goal
        hit/hit : person -> ball
        pass : person -> ball
        train : person -> person animal
        blow/blew : person -> whistle
        cheer : person -> for person
        win/won : person
        train : person animal
        jump : animate
        race : animate
        cheer : person
        stretch : person
    """,
    "adjectives": """
        strong fit quick : person animal
        proud : person
        +fair : person event
    """,
}


GARDEN = {
    "nouns": {
        "person": "gardener",
        "animal": "bee butterfly worm snail rabbit frog",
        "plant": "rose tulip tree bush daisy weed sunflower hedge",
        "food": "tomato/tomatoes bean pea strawberry cucumber pumpkin",
        "tool": "shovel hose rake spade ladder wheelbarrow",
        "thing": "seed leaf/leaves soil* bench hole",
    },
    "places": "garden:in greenhouse:in lawn:on path:on shed:in",
    "verbs": """
        plant : person -> plant seed
        water : person -> plant lawn garden
        prune : person -> plant
        trim/trimmed : person -> plant
        pick : person -> plant food
        smell : animate -> plant food drink
        sow/sowed : person -> seed
        rake : person -> leaf lawn path
        dig/dug : person animal -> hole
        grow/grew : person -> plant food
        dig/dug : person animal
        grow/grew : plant food
        bloom : plant
        buzz : bee
        crawl : worm snail
    """,
    "adjectives": """
        colorful bright : plant place
        fragrant : plant
        tiny : animal plant thing
        wild : plant animal place
        shady sunny : place
    """,
}


FOREST = {
    "nouns": {
        "person": "hiker ranger guide hunter camper",
        "animal": "fox deer/deer bear owl wolf/wolves squirrel eagle",
        "plant": "pine oak mushroom moss* berry fern",
        "food": "mushroom berry",
        "thing": "tent backpack boot lantern log",
        "nature": "river stream waterfall fire",
    },
    "places": "trail:on forest:in mountain:on valley:in cabin:in cave:in clearing:in lake:by camp:at",
    "verbs": """
        climb : animate -> mountain hill tree pine oak
        follow : person -> trail river stream path road
        explore : person -> place
        hunt : person animal -> animal
        light/lit : person -> fire lantern candle
        pack : person -> object food
        track : person animal -> animal
        hike : person
        camp : person
        hide/hid : animate
        howl : wolf
    """,
    "adjectives": """
        steep rocky snowy : place
        dark : place sky cloud
        thick : plant place
    """,
}
