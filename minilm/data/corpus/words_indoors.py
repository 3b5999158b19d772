"""Six topics indoors: a kitchen, a school, music, a workshop, a cinema, a hotel.

Notation as in ``topics.py``.
"""

KITCHEN = {
    "nouns": {
        "person": "cook chef baker waiter",
        "animal": "mouse/mice",
        "food": "soup cake pie onion apple egg bread* rice* cheese* butter* sauce* salad carrot potato/potatoes "
                "lemon cookie fish/fish dinner lunch breakfast meal",
        "dish": "soup cake pie bread* sauce* salad cookie",
        "produce": "onion apple carrot potato/potatoes lemon",
        "tool": "knife/knives pot pan spoon bowl plate cup fork",
        "machine": "oven stove kettle",
        "story": "recipe menu",
        "event": "dinner lunch breakfast meal",
    },
    "places": "kitchen:in restaurant:at bakery:at",
    "verbs": """
        cook : person -> food
        bake : person -> dish fish potato
        boil : person -> egg rice potato fish soup drink
        chop/chopped : person -> produce
        stir/stirred : person -> soup sauce drink
        taste : animate -> food drink
        serve : person -> dish fish rice drink
        fry : person -> egg fish potato onion
        slice : person -> produce bread cake pie cheese
        peel : person -> produce egg
        mix : person -> sauce salad soup drink
        wash : person -> food tool
        heat : person -> soup sauce drink pot pan
        pour : person -> drink
        order : person -> food drink
        cook : person
        bake : person
    """,
    "adjectives": """
        spicy sweet salty sour crisp tender ripe : food
        +delicious +tasty -bland -stale -greasy -burnt : food
        sharp : tool
    """,
}


SCHOOL = {
    "nouns": {
        "person": "teacher student pupil tutor principal",
        "thing": "pencil desk ruler notebook eraser chalk* board book",
        "story": "book story poem letter essay question answer word page dictionary homework*",
        "event": "lesson exam",
    },
    "places": "classroom:in library:in school:at hall:in playground:on",
    "verbs": """
        teach/taught : person -> story event person
        learn : person -> story tune
        read/read : person -> story
        write/wrote : person -> story
        study : person -> story
        explain : person -> story
        draw/drew : person -> story animal thing plant
        ask : person -> person
        answer : person -> question letter person
        copy : person -> story
        spell : person -> word
        listen : person -> to person story tune
        sharpen : person -> pencil knife
        count : person -> object animal
        read/read : person
        write/wrote : person
    """,
    "adjectives": """
        curious strict : person
        difficult easy : story event
        neat : story thing place
    """,
}


MUSIC = {
    "nouns": {
        "person": "singer drummer pianist violinist musician composer guitarist",
        "instrument": "piano guitar drum violin flute trumpet harp cello",
        "tune": "song melody tune music* rhythm note album",
        "thing": "album",
        "event": "concert show rehearsal",
    },
    "places": "stage:on studio:in",
    "verbs": """
        sing/sang : person -> tune
        play : person -> instrument tune
        practice : person -> tune instrument
        compose : person -> tune
        hum/hummed : person -> tune
        record : person -> tune
        perform : person -> tune
        listen : animate -> to tune instrument person
        tune : person -> instrument
        whistle : person -> tune
        sing/sang : person bird
        play : person animal
        practice : person
        clap/clapped : person
        dance : person
    """,
    "adjectives": """
        soft gentle : tune
        +lively +catchy : tune event
        famous : person tune place story
    """,
}


WORKSHOP = {
    "nouns": {
        "person": "engineer mechanic carpenter inventor electrician",
        "machine": "robot radio camera phone laptop clock lamp engine drill printer computer",
        "tool": "hammer nail screw wrench screwdriver tape* glue* wire battery",
        "thing": "plank shelf/shelves button screen cable switch wheel",
    },
    "places": "workshop:in garage:in factory:in",
    "verbs": """
        fix : person -> machine vehicle thing tool
        repair : person -> machine vehicle thing
        test : person -> machine vehicle tool
        charge : person -> phone laptop battery camera robot
        measure : person -> thing tool
        design : person -> machine thing vehicle
        paint : person -> thing vehicle machine
        break/broke : person animal -> object
        drill : person -> plank shelf board
        glue : person -> thing
        invent : person -> machine
        hammer : person -> nail plank
        break/broke : object vehicle
        beep : machine
    """,
    "adjectives": """
        broken shiny rusty electric : object vehicle
    """,
}


CINEMA = {
    "nouns": {
        "person": "actor director critic viewer hero villain star",
        "story": "film movie plot scene script ending trailer poster",
        "thing": "seat poster",
        "food": "popcorn*",
        "event": "premiere",
    },
    "places": "cinema:at theater:at",
    "verbs": """
        film : person -> scene movie
        direct : person -> story
        rehearse : person -> scene script
        review : person -> story
        applaud : person -> person
        frighten : animate story -> person
        act : person
        rehearse : person
        cry : person
        applaud : person
        shout : person
    """,
    "adjectives": """
        dramatic romantic scary : story event
    """,
}


HOTEL = {
    "nouns": {
        "person": "guest traveler receptionist porter manager",
        "thing": "suitcase pillow blanket towel passport bed sofa",
        "event": "trip holiday journey tour",
    },
    "places": "hotel:at room:in lobby:in balcony:on elevator:in",
    "verbs": """
        stay : person -> at hotel room cabin house
        unpack : person -> thing
        book : person -> room trip tour
        greet : person -> person
        complain : person -> about object food place person
        welcome : person -> person
        stay : person
        relax : person
        complain : person
    """,
    "adjectives": """
        sunny : place
    """,
}
