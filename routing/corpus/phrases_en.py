"""English phrase banks for the 311-style training corpus (our own writing).

Per category: ``title`` (a request summary), ``core`` (the main complaint), ``detail`` (a
supporting sentence).  ``{p}`` is a place.
"""

from __future__ import annotations

BANK: dict[str, dict[str, str]] = {
    "facilities": {
        "title": """Street Condition - Pothole
Street Light Condition
Traffic Signal Condition
Sewer - Catch Basin Clogged/Flooding
Water System - Hydrant Running
Sidewalk Condition
Damaged Tree - Branch Blocking Street
Snow - Street Not Plowed
Sign Repair
Pothole
Streetlight out
Sidewalk repair
Clogged catch basin
Storm drain blocked
Water main break
Traffic signal not working
Street sign down
Broken curb
Pedestrian signal broken
Fire hydrant leaking
Sinkhole
Park bench broken
Road surface damage""",
        "core": """The bus shelter at {p} has shattered glass and the bench is gone
Both streetlights on {p} are out and the block is pitch black
Manhole at {p} is sunken about six inches below the road
The drinking water on {p} is brown coming out of the tap since the main was repaired
Huge crater in the travel lane on {p}, hubcaps everywhere
The storm grate at {p} is missing and there is an open hole
Traffic light at {p} is flashing and the pedestrian signal is dark
Water has been running from the hydrant on {p} for two days
Snow plow never came down {p}, cars are stuck
A large branch is hanging over {p} and blocking the lane
Elevator in the public parking garage at {p} is stuck and out of service
Snow was never plowed on {p}, the city plow skipped our street
Drinking fountain at {p} has no water
The bridge deck on {p} has holes in it you can see through
Traffic signal at {p} is out, drivers are treating it like a four way stop
Broken lights in the underpass at {p}
The public restroom in the park at {p} has been locked and broken for weeks
Road markings and lane lines on {p} are faded and invisible at night
The bike lane on {p} is full of cracks and sunken patches
A tree fell on the sidewalk at {p} and is blocking the path
Water bubbling up from the street on {p}, the hydrant line may be broken
The pedestrian bridge at {p} has a broken railing
Large pothole on {p}, cars are swerving to avoid it
The streetlight in front of {p} has been out for weeks
The sidewalk on {p} is heaved and cracked, people trip on it all the time
Catch basin at {p} is clogged with leaves and the street floods when it rains
Storm drain on {p} is backed up and water pools across the road
Water is gushing out of the pavement on {p}, looks like a water main break
The traffic light at {p} is stuck on red in all directions
Stop sign at {p} was knocked down and is lying on the ground
Pedestrian crossing button at {p} does not work
Fire hydrant on {p} is leaking water constantly
There is a sinkhole forming in the road at {p}
Several potholes along {p} need to be filled, one is very deep
Manhole cover on {p} is loose and rattles every time a car drives over it
The street lamp on {p} flickers on and off all night
Curb and gutter at {p} are crumbling into the street
Bench and water fountain in the park at {p} are broken
The road on {p} was dug up for utility work and never repaved properly
Street name sign missing at the corner of {p}
The walk signal at {p} never turns on so people cross against traffic
Guard rail along {p} is bent and hanging loose
Crosswalk paint at {p} has worn off completely
Light pole at {p} is leaning and the fixture is hanging
Tree roots have lifted the sidewalk slabs on {p}, not wheelchair accessible
No water pressure on the whole block of {p} since the city crew left""",
        "detail": """It is a danger to bikes and cyclists
It's completely dark at night and hard to see
Someone is going to get hurt
This has been reported before and nothing happened
Please send a crew to repair it
It damaged my tire last night
Kids walk by here to school every day
The hole keeps getting bigger""",
    },
    "sanitation": {
        "title": """Missed Collection
Dirty Conditions
Sanitation Condition
Illegal Dumping - Vacant Lot
Dead Animal Pickup
Street Cleaning Request
Improper Storage of Trash
Graffiti Removal
Trash not picked up
Illegal dumping
Overflowing trash can
Bulk pickup
Graffiti
Dead animal
Litter
Recycling missed
Dog waste""",
        "core": """Mountains of trash bags left on the curb at {p} since last week
Litter everywhere around the bus stop at {p}, the can was removed
Graffiti tags all over the storefronts on {p}
Garbage has not been collected on {p} for two weeks
Barrels left out on the sidewalk at {p} with no lids, trash blowing around
Someone dumped dozens of tires in the lot at {p}
Street sweeper skipped {p}, gutters full of trash
Old mattress and furniture dumped on the sidewalk at {p}
Abandoned shopping carts and junk left in the lot at {p}
Vacant lot at {p} is overgrown with weeds and full of trash
Dead squirrel on the sidewalk in front of {p}
Someone empties their car ashtray and fast food trash at {p} every day
Street sweeping never happens on {p}, sand and trash pile up
Trash bags torn open by animals all over {p}
Garbage cans left at the curb all week on {p}
Graffiti on the side of the bridge at {p} is getting worse
Trash was not picked up on {p} this week, bins are overflowing
Someone dumped a mattress, couch and tires on {p}
The public trash can at {p} is overflowing and garbage is blowing everywhere
Graffiti spray painted on the wall at {p}
Dead raccoon in the road on {p}, please remove
There is a dead deer on the side of {p}
Litter and broken glass all over the lot at {p}
Recycling was missed again on {p}, third week in a row
Dog poop all over the sidewalk on {p}, owners never pick up
Bulk items left at the curb on {p} for over a month
Tagging on the mailbox and bus shelter at {p}
Pile of construction debris and trash bags dumped in the alley behind {p}
Dumpster at {p} overflowing with garbage and smells terrible
Leaves and yard waste bags not collected on {p}
Dead cat on the sidewalk at {p}
Garbage strewn across the street after pickup on {p}
Someone keeps dumping household trash in the vacant lot at {p}
Needles and trash scattered around the park at {p}, needs a cleanup""",
        "detail": """It attracts flies and animals
The smell is unbearable in this heat
This is an eyesore for the neighborhood
Please send sanitation to clean it up
It has been sitting there for days
Bags are torn open and trash is everywhere""",
    },
    "environment": {
        "title": """Noise - Commercial
Noise - Construction Before/After Hours
Air Quality - Odor
Industrial Waste
Noise - Bar/Club
Noise complaint - business
Construction noise
Air pollution
Odor from restaurant
Smoke from factory
Dust from construction site
Idling trucks""",
        "core": """The factory on {p} runs machinery all night and the noise carries for blocks
Exhaust fumes from the idling buses at {p} fill our apartment
Loud music from the club at {p} every night until closing
The restaurant at {p} keeps playing live music outdoors past midnight
Pesticide was sprayed along {p} without any notice, strong chemical smell
Heavy equipment is being moved down {p} every night with alarms beeping
The venue at {p} violates its permit with loud events every weekend
Oil leaking from the business lot at {p} into the river
Diesel fumes from the bus depot at {p} come into our homes
The brewery at {p} has a constant rotten smell
Smoke from the wood fired pizza place at {p} fills the block
The bar at {p} plays loud music until 3am every weekend
Construction crew at {p} starts jackhammering at 5am
Factory on {p} is releasing black smoke and a chemical smell
Restaurant exhaust fan at {p} blows grease smoke into our windows
Huge clouds of dust coming off the construction site at {p}
Delivery trucks idle for hours at {p} with diesel fumes
The auto body shop at {p} sprays paint outdoors and the fumes are awful
Nightclub at {p} has bass so loud our windows shake
The plant on {p} discharges something into the creek, the water is discolored
Landscaping company uses leaf blowers at {p} before 7am every day
Burning smell from someone burning trash and tires at {p}
The store at {p} blasts music from outdoor speakers all day
Generators at the work site on {p} run all night
Strong sewage odor coming from the treatment plant near {p}
Concrete plant at {p} covers everything with dust
Car wash at {p} lets soapy water run into the storm drain""",
        "detail": """We can't sleep at night
The smell makes my kids sick
Noise ordinance violation
Please have an inspector check this
It happens every single day
The air quality is terrible""",
    },
    "safety": {
        "title": """Non-Emergency Police Matter
Vacant Building Open to Entry
Downed Wires
Illegal Fireworks
Unsafe Building
Drug activity
Break-ins
Downed power line
Abandoned house unsecured
Fire hazard
Gunshots
Suspicious activity
Exposed wires
Unsafe structure""",
        "core": """Someone keeps breaking car windows on {p} at night
Loose dogs roaming {p} attacking people and pets
Men fighting and brandishing a bat in front of {p}
The fire hydrant at {p} is blocked by junk, firefighters could not use it
My package was stolen from my porch on {p}
Mail theft on {p}, someone is opening mailboxes
A pit bull off leash attacked my dog near {p}
Aggressive panhandling outside the store at {p}, people are scared
Scaffolding at {p} has loose boards hanging over the sidewalk
Someone is breaking into garages on {p} at night
Vagrants living in the hallways of the building at {p}, they threaten tenants
The pool in the vacant house at {p} has no fence and kids get in
Car stolen from in front of {p} last night
Teenagers throwing rocks at cars on {p}
Man with a gun seen near {p}
Open manhole with no barrier on {p}, someone will fall in
Drug dealing on the corner of {p} day and night
Several cars were broken into on {p} this week
A power line is down across {p} and sparking
The abandoned house at {p} is wide open and people are going in at night
Gunshots heard near {p} almost every night
Exposed electrical wires hanging from the pole at {p}
People keep starting fires in the vacant building at {p}
Suspicious people trying car door handles on {p}
Gas smell near {p}, I think there is a leak
A large dead tree at {p} is about to fall on the houses
Fight broke out in front of {p} and someone had a knife
The fire escape at {p} is blocked with junk
Prostitution and loitering all night at {p}
Someone is selling fireworks illegally out of a van at {p}
The porch of the vacant house at {p} is collapsing onto the sidewalk
Kids climbing into the unfenced pool of the abandoned property at {p}""",
        "detail": """Police were called but nothing changed
Someone is going to get killed
We don't feel safe walking here
Please increase patrols
It is a fire hazard
This is an emergency waiting to happen""",
    },
    "traffic": {
        "title": """Illegal Parking - Blocked Hydrant
Blocked Driveway
Derelict Vehicle
Abandoned Vehicle
Parking Enforcement
Traffic Calming Request
Illegal parking
Blocked driveway
Abandoned vehicle
Speeding
Parking on sidewalk
Double parking
Need speed bump
Trucks on residential street""",
        "core": """Cars constantly run the red light at {p}
The no parking signs on {p} are ignored and the street is jammed
Car with expired tags parked on {p} for over a month
Cars are parked on both sides of {p} so emergency vehicles cannot pass
Tow truck needed, a car has been left in the no parking zone at {p} for days
Need a crossing guard at {p}, drivers do not stop for children
Motorcycles revving and speeding on {p} every night
The intersection at {p} needs a left turn arrow, constant near misses
Commuters use {p} as a cut through and drive way too fast
Boat trailer parked on {p} for months taking up spaces
School buses idle and block the whole street at {p}
Cars park illegally on {p} and block the fire hydrant
Someone is blocking my driveway on {p} every morning
Abandoned vehicle with flat tires and no plates on {p} for months
Cars speed down {p} way over the limit, it's a racetrack
Cars parked on the sidewalk on {p} so we have to walk in the street
Delivery trucks double park on {p} and block traffic
We need a speed bump or stop sign on {p}, drivers fly through
Tractor trailers use {p} as a shortcut even though trucks are prohibited
People park in the bike lane on {p} all day
Drivers run the stop sign at {p} constantly
Cars parked in the crosswalk at {p} during school pickup
Traffic backs up for blocks at {p} every rush hour
Vehicles parked too close to the corner at {p}, can't see oncoming traffic
Car has been parked in the same spot on {p} for weeks without moving
Parking enforcement needed on {p}, cars park in the handicap spot
Drag racing on {p} late at night""",
        "detail": """Please send parking enforcement
Someone is going to get hit
Please tow it
It's hard to see oncoming cars
There are kids playing on this street
The police never enforce it""",
    },
    "property": {
        "title": """HEAT/HOT WATER
Unsanitary Condition - Apartment
Poor Conditions of Property
Elevator - Residential Building
Plumbing - Landlord
Paint/Plaster - Tenant
Landlord not making repairs
No heat
Mold in apartment
HOA complaint
Condo association
Apartment complex management
Leaking roof
Tenant issue""",
        "core": """The heat in my apartment at {p} has been off for days and the landlord is not answering
Our condo management at {p} refuses to fix the broken intercom and lobby door
The landlord at {p} won't exterminate the roaches in our unit
I have had no heat or hot water in my apartment at {p} since last week
The landlord at {p} refuses to repair the leaking ceiling and the peeling paint
Tenants at {p} report mold, broken windows and no hot water
The owner of {p} lets the house fall apart, trash and tall grass everywhere
The apartment management at {p} never fixes anything we request
Absentee landlord at {p} never shovels the sidewalk or cuts the grass
The condo complex at {p} does not clear snow from the public walk
Slumlord at {p} lets the building fall apart, broken windows and no heat
Our apartment at {p} has roaches and the landlord won't call an exterminator
The vacant house at {p} is owned by a bank and nobody maintains it
Anti blight violation at {p}, the owner lets the property rot
The management company at {p} charges fees for repairs it never does
Tenants at {p} have had no heat and no hot water all winter
The HOA board at {p} fines us but ignores the broken pool and lights
Water is coming through the ceiling of my rental at {p}
My landlord at {p} refuses to fix the heat, it's freezing in the apartment
There is black mold in the bathroom of my apartment at {p} and the landlord ignores it
The HOA at {p} won't fix the broken gate and keeps raising fees
The condo association at {p} hasn't repaired the roof leak for months
Management at the apartment complex on {p} never answers maintenance requests
No hot water in our building at {p} for a week, the landlord does nothing
The elevator in our building at {p} has been broken for a month
Landlord at {p} is keeping my security deposit without reason
Ceiling is leaking into my unit at {p} and management won't send anyone
The property manager at {p} lets the hallway lights stay broken
Apartment complex at {p} has broken locks on the front door
The owner of the rental at {p} is not maintaining the building, porch is rotting
Our homeowners association at {p} refuses to repair the private road
The landlord at {p} shut off the water to force tenants out
The building at {p} has no working smoke detectors and the landlord won't install them""",
        "detail": """I am a tenant and have asked many times
I pay rent every month on time
Need code enforcement to inspect the unit
The management company never calls back
Other tenants have the same problem
My kids are getting sick""",
    },
    "construction": {
        "title": """Building/Use - Illegal Conversion
Work Without Permit
General Construction
Zoning - Illegal Use
Building without permit
Illegal construction
Unpermitted addition
Zoning violation
Demolition without permit
Illegal conversion""",
        "core": """Someone is pouring a foundation in the backyard at {p} with no permit
The contractor at {p} is tearing out load bearing walls without inspection
The new building going up at {p} has no permit displayed
Illegal rooming house being built at {p}, walls added inside a single family home
Fake construction signs at {p} block the lot, but there is no construction permit
Contractor at {p} keeps adding floors beyond what was approved
Someone tore down the historic porch at {p} without approval
The restaurant at {p} is expanding onto the sidewalk without a building permit
The owner at {p} is building an addition without a permit
Someone is constructing a second story on the house at {p}, no permit posted
Contractor at {p} is demolishing the building with no permit or safety fencing
The house at {p} is being converted into several apartments illegally
Illegal structure built on the sidewalk in front of {p}
Someone built a shed and deck over the property line at {p}
Garage at {p} converted into a living unit without approval
Construction at {p} continues after the stop work order was posted
The business at {p} put up an extension into the public right of way
A large structure is being built in the backyard at {p} with no building permit
Roofers at {p} are working without a permit and dumping shingles""",
        "detail": """Please have a building inspector check
There is no permit posted anywhere
Code enforcement should look at this
They are working on weekends to avoid inspection""",
    },
    "dispute": {
        "title": """Noise - Residential
Loud Music/Party - Neighbor
Neighbor Complaint
Neighbor noise
Barking dog
Neighbor dispute
Neighbor harassment
Property line dispute""",
        "core": """The neighbor upstairs at {p} plays drums every night
My neighbor keeps leaving his garbage cans in front of my house
Loud music and a party at the house next door at {p} every night
My neighbors at {p} argue and scream at all hours
The tenants next door at {p} have loud parties every night and cursing
My neighbor keeps dragging his trash cans onto my property
Two houses at {p} have loud gatherings in the yard every night
My neighbor's cats come into my garden and I want to talk it out with help
Neighbor keeps parking his trailer across my lawn and argues when asked
The family upstairs slams doors and yells at all hours
My neighbor's dog runs into my yard and they get angry when I complain
My neighbor at {p} plays loud music every night until 2am
The neighbor's dog at {p} barks all day and night
Upstairs neighbor stomps and moves furniture at midnight
My neighbor keeps throwing trash into my yard
Neighbor at {p} built a fence on my side of the property line
The neighbor's tree branches hang over my roof and they refuse to trim them
My neighbor harasses my family and yells at my kids
Next door neighbors party every weekend with shouting and fights
Neighbor blocks our shared driveway with his cars
My neighbor's security camera points straight into my bedroom window
The people downstairs smoke and it comes into my unit, they won't stop
Neighbor's water from their gutter floods my basement and they won't fix it
Neighbor keeps chickens and a rooster that crows at 4am
I need mediation with my neighbor over a shared wall""",
        "detail": """I have tried talking to them many times
They just laugh at me
We can't sleep
I don't want to call the police on my neighbors
Is there a mediation service""",
    },
    "welfare": {
        "title": """Homeless Encampment
Homeless Person Assistance
Elderly Welfare Check
Wage Theft
Homeless encampment
Wellness check
Unpaid wages
Benefits help
Senior assistance
Rent assistance""",
        "core": """Homeless man lying on the sidewalk at {p} in the cold, please send outreach
An elderly man at {p} seems confused and has no one to take care of him
People are living in the hallway of the building at {p}, they need shelter
Homeless people sleeping under the trees at {p}
Several panhandlers at {p} seem to need shelter and services
Man living in a tent behind {p} looks very sick and needs help
An elderly couple at {p} can't get to the store and needs meals delivered
A veteran on {p} needs help with housing
How do I get help paying my heating bill this winter
I was not paid for my last three weeks of work and my boss won't answer
There is a homeless encampment under the bridge at {p}
A homeless man has been sleeping in the doorway at {p} and seems sick
My elderly neighbor at {p} lives alone and I haven't seen her in days, please do a wellness check
My employer hasn't paid my wages for two months
I need help applying for food stamps and assistance
My disability benefits stopped and nobody answers the phone
Senior living alone at {p} needs help with groceries and medicine
How do I apply for rent assistance, I am about to be evicted
Family with small children living in a car at {p} needs shelter
I lost my job and need to apply for unemployment
My mother needs a caregiver, what services are available
People are camping in tents on the sidewalk at {p}""",
        "detail": """They need help
Please send someone from social services
I don't know where else to turn
It's getting cold at night""",
    },
    "health": {
        "title": """Rodent Activity
Food Poisoning
Needle Pickup
Mosquito Complaint
Bed Bugs
Rodents
Rats
Restaurant health violation
Bed bugs
Mosquitoes
Needles
Food safety""",
        "core": """Rodents in the basement and the backyard at {p}
Restaurant at {p} has flies everywhere and food left out
Rats running between the trash cans and the empty lot at {p}
Rats are living in the abandoned house at {p}
Mice all over the old school grounds at {p}
Raccoons out in daylight on the porch at {p}, they may be rabid
Rats coming out of the storm drains at {p}
The food truck at {p} has no hand washing and the meat sits in the sun
Mosquitoes everywhere at {p} because of the stagnant pond
The hospital emergency room made us wait eight hours and the staff were rude
The clinic at {p} refused to see my child without insurance
Cockroaches coming from the restaurant into our building at {p}
Rats running all over the yard and alley at {p}
Huge rat burrows along the foundation at {p}
The restaurant at {p} has roaches in the kitchen
Standing water in the abandoned pool at {p} is breeding mosquitoes
Bed bugs throughout the building at {p}
I got food poisoning after eating at the restaurant on {p}
Used syringes in the playground at {p}
The clinic at {p} turned us away and the staff were rude
Mice infestation in the apartments at {p}
The grocery store at {p} sells expired meat
Pigeons roosting everywhere at {p}, droppings all over
Hoarder house at {p} has rodents coming out""",
        "detail": """This is a health hazard
Please send an exterminator or health inspector
My kids play here
We see them every night""",
    },
    "other": {
        "title": """Consumer Complaint
Compliment
General Question
Lost Property
Question
Thank you
Lost item
Suggestion
Internet service
Bank complaint
General inquiry""",
        "core": """Why did my water bill double this month
The library at {p} has been closed for weeks, when will it reopen
The bus on route J leaves early every morning
Liquor store opening at {p}, how can residents comment on the permit
Looking for ideas for a mural project in the neighborhood
Why is the corner store at {p} allowed to sell loose cigarettes
Flood insurance keeps going up, what is the city doing about it
The police were rude when they came to tow cars on our street
Can someone tell me when the leaf collection schedule starts
I want to thank the public works crew for their help
The cell phone company overcharged me and won't fix it
My kid's school cancelled the bus route without notice
Found a set of keys at {p}
Thank you to the crew who fixed our street last week
Where can I find the schedule for the community meeting
I lost my wallet near {p}, did anyone turn it in
Suggestion: add more events for kids at the library
Comcast has not fixed my internet for two weeks
The bank at {p} charged me fees without telling me
How do I register for the youth summer program
My package was stolen by the delivery company, they won't refund
The school bus is always late and the school doesn't answer
Great job by the city staff, very responsive
What are the office hours at city hall
The website for paying my bill is broken
Is there a phone number for the grid member on my block
The cable company sent someone who never showed up""",
        "detail": """Thanks
Just wanted to let you know
Please let me know
Appreciate it""",
    },
}

WITNESSES = """My neighbors and I have reported this several times
I called 311 twice already
The police said to call the city about it
Our block watch has complained for months
My kids and my neighbor's kids walk past this every day
The alderman's office knows about this
I live next door and see this every day
Everyone on the street is frustrated""".splitlines()

OPENERS = """Hi,
Hello,
To whom it may concern,
Good morning,
Resident here.
I'd like to report that
Again,
Please help.""".splitlines()

CLOSINGS = """Thank you.
Thanks!
Please fix ASAP.
This is the third time I have reported this.
Please respond.
Appreciate your help.
Ticket should not be closed until fixed.""".splitlines()

SECONDARY = ["Also, ", "Plus ", "On top of that, ", "Additionally, ", "Side note: "]

PLACES = """Elm St
Chapel Street
the corner of Main and 3rd
Whalley Ave
Orchard St near the school
the park on Winchester
Oak Ridge Apartments
Grand Ave
the alley behind 45 Maple
Dixwell Ave
Lincoln Blvd and 8th
the library parking lot
Fairmont Rd
Sherman Ave
the end of Willow Lane
Bridge St near the bus stop
Ferry St
the 1200 block of State St""".splitlines()
