"""The general vocabulary: people, things, verbs and adjectives that every topic shares.

Notation as in ``topics.py``.
"""

GENERAL = {
    "nouns": {
        "person": "man/men woman/women child/children friend boy girl visitor neighbor stranger",
        "animal": "dog cat bird",
        "thing": "box bag basket hat coat key picture gift bottle chair door window candle stick stone",
        "drink": "water* tea* coffee* juice*",
        "nature": "sun rain* wind snow* sky cloud",
    },
    "places": "house:in town:in village:in road:on hill:on",
    "verbs": """
        see/saw : animate -> concrete
        like : person -> concrete content
        love : person -> animate food drink place content object
        find/found : animate -> object food animal
        want : animate -> object food drink
        need : person -> object
        bring/brought : person -> object food drink
        carry : person animal -> object food
        take/took : person -> object food
        hold/held : person -> object animal
        watch : animate -> animate vehicle event
        visit : person -> place person
        clean : person -> object place vehicle
        open : person -> box bag basket door window bottle
        buy/bought : person -> object food drink vehicle
        sell/sold : person -> object food drink vehicle
        make/made : person -> dish drink box basket hat picture gift candle story tune
        use : person -> tool machine instrument
        hear/heard : animate -> tune person animal machine nature
        remember : person -> person place story tune event
        forget/forgot : person -> object story
        lose/lost : person animal -> object
        leave/left : animate vehicle -> place
        look : animate -> at concrete story
        talk : person -> to person
        wait : animate -> for person vehicle event
        walk : animate -> to place
        help : person -> person
        call : person -> person animal
        follow : animate -> person animal
        eat/ate : person -> food
        eat/ate : animal -> food fodder
        drink/drank : animate -> drink
        build/built : person -> thing machine vehicle
        enjoy : person -> content food drink place
        hate : person -> content food drink place object
        recommend : person -> content food drink place object
        regret : person -> content food drink place object
        think/thought : person -> clause
        know/knew : person -> clause
        say/said : person -> clause
        hope : person -> clause
        notice : person -> clause
        walk : animate
        sleep/slept : animate
        smile : person
        frown : person
        sigh : person
        laugh : person
        arrive : animate vehicle
        rest : animate
        work : person machine
        sit/sat : animate
        run/ran : animate
        stop/stopped : animate vehicle machine
        live : animate
        come/came : animate vehicle
        eat/ate : animate
        rain : weather
        snow : weather
    """,
    "adjectives": """
        big small : animate object vehicle place plant food
        old : person animal object vehicle place plant
        new : object vehicle place story tune
        young : person animal plant
        red yellow : object vehicle plant food
        blue green : object vehicle
        white black brown : animal object vehicle
        happy sad tired hungry : animate
        kind brave careful : person
        quiet : animate place machine
        loud : animate machine tune instrument event
        warm cold hot : place nature drink food
        wet dry : animal place object plant
        heavy : object vehicle
        long short : story event tune road trail river path
        expensive cheap : object vehicle food drink place event
        +good +great +nice +lovely +pleasant : concrete content
        +excellent! +wonderful! +perfect! : content food drink place object vehicle
        -bad -poor -disappointing -mediocre : content food drink place object vehicle
        -awful! -terrible! -horrible! : content food drink place object vehicle
        +beautiful -ugly : animal plant object vehicle place nature tune
        +interesting +exciting +funny +moving +original : story event
        -boring -dull -predictable -confusing -silly -tedious : story event
        +clean -dirty : place object vehicle
        +comfortable -uncomfortable : place bed chair seat pillow sofa boot
        +friendly : animate
        +helpful +polite +talented +charming +clever -rude -unfriendly -careless -clumsy -lazy : person
        +fresh : food drink
        -noisy : animate place machine vehicle event
        -crowded : place vehicle event
        +reliable +sturdy +fast -faulty -flimsy -slow : machine vehicle tool
        +cozy +spacious -cramped -shabby : place
    """,
}
