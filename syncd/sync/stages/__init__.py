"""The planner's stages (DESIGN §5), in the order ``syncd.sync.plan.plan`` runs them.

Where each rule lives:

=================  ============================================================================
``index.py``       §5.1 step 2, §5.6: exclusions (admins, excluded roles, invalid emails),
                   matching by remote id and key, duplicate keys
``links.py``       every link in turn: the cheap nothing-changed check, the order, the claims
``emails.py``      §5.3 for emails: the order email changes need, a temporary address for a
                   cycle (two users swapping emails, three rotating them)
``linked.py``      §5.3: the three-way merge of a linked user, rebase, re-activation (§5.7)
``departures.py``  §5.7: deletions (on_delete), and users who come back (re-link)
``unlinked.py``    §5.4 first contact, §5.5 creates, unconfirmed creates
``guard.py``       §5.7: the safety guard
``fields.py``      §5.2-§5.4: merged field outcomes turned into writes (dummies, WordPress's
                   rewriting, refused values, an email another account holds)
``common.py``      the context every stage reads, and the shape of one user's decision
=================  ============================================================================

Each stage takes frozen inputs and returns a frozen output; the only state that flows from
one decision to the next is a claim, carried explicitly (see ``links.py``).
"""
