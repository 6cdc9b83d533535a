"""Writes examples/onboarding/people.csv: a realistic roster of about 200 people in 10 teams, with the mess real
exports have (mixed-case emails, extra spaces, people in several groups). Deterministic: same file every time.
    python hack/make_demo_roster.py > examples/onboarding/people.csv
"""

import csv
import random
import sys

FIRST = ["ana", "bo", "chloe", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kim", "lars", "mei", "nour",
         "omar", "pia", "quinn", "ravi", "sofia", "tom"]
LAST = ["ng", "silva", "berg", "khan", "meyer", "rossi", "tanaka", "okafor", "dubois", "novak"]
TEAMS = ["platform", "data-science", "ml-infra", "web", "mobile", "payments", "security", "sre", "qa", "docs"]


def main():
    rng = random.Random(2026)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["username", "email", "name", "login_type", "roles", "groups"])
    people = [(first, last) for last in LAST for first in FIRST]
    for index, (first, last) in enumerate(people):
        username = f"{first}-{last}"
        email = f"{first}.{last}@example.test"
        if index % 7 == 0:
            email = email.title()  # exports keep whatever case people typed
        name = f"{first.title()} {last.title()}"
        if index % 11 == 0:
            name = f"  {name} "  # stray spaces around cells
        teams = [TEAMS[index % len(TEAMS)]]
        if index % 23 == 0:
            teams += rng.sample([t for t in TEAMS if t != teams[0]], 2)  # someone in three groups
        roles = "template-admin" if index % 40 == 0 else ""
        writer.writerow([username, email, name, "github" if index % 3 else "none", roles, ";".join(teams)])


if __name__ == "__main__":
    main()
