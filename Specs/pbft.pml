/*
 * pbft.pml — PBFT (Castro & Liskov, OSDI'99, signature variant) for SPIN. Rule ids are Specs/PBFT.md's.
 *
 * Scope: n = 4, f = 1 (N = 5 for the quorum arithmetic variant), one sequence number (checkpoints
 * abstracted: h = 0, the window holds the one sequence), views 0 and 1, client values 1..NVAL and the
 * forged value FORGED (a request no client signed; only the Byzantine replica offers it).
 *
 * Network (§4 system model): a message sent is in a global pool forever; a receiver may act on it at
 * any later step or never. That is reordering, delay, duplication and loss before GST in one
 * abstraction. Honest messages exist only when an honest replica took the step that sends them, so
 * honest signatures are unforgeable by construction. The Byzantine replica BYZ "sends anything under
 * its own identity": wherever an honest replica reads a message of BYZ, the model lets it read any
 * message BYZ could sign — any digest, any vote — chosen at receive time (each receiver may see a
 * different one: equivocation). Embedded certificates must still verify (§4.4: a prepared certificate
 * is a PRE-PREPARE plus 2f PREPAREs signed by others).
 *
 * The model is acyclic (every step makes monotone progress in a bounded space), so every maximal run
 * ends in a state with nothing enabled: every message sent was read by everyone it concerns and every
 * view-change timer that could fire did. That is GST plus fairness, and the end-state assertion
 * LIVE checks liveness there (only when the last view's primary is honest).
 *
 * Mutants (-D): one per rule, named after TestMutant.swift (Sources/Fuzzing):
 *   COMMIT_WITHOUT_DIGEST_MATCH (N5)     PREPARE_WITHOUT_DIGEST_MATCH (N3)
 *   COMMIT_QUORUM_WEAK (Q1/N5)           PREPARE_QUORUM_WEAK (Q1/N3)
 *   QUORUM_2F_PLUS_1 (Q1, with -DN=5)    SKIP_REQUEST_SIGNATURE_CHECK (R1/N2)
 *   ACCEPT_CONFLICTING_PRE_PREPARE (N2)  NO_VIEW_CHANGE_TIMER (V1)
 *   ACCEPT_UNVERIFIED_VIEW_CHANGE (V2)   NEW_VIEW_WITHOUT_QUORUM (V5/Q1, with -DBYZ=1)
 *   ACCEPT_NEW_VIEW_WITHOUT_RECOMPUTE (V5, with -DBYZ=1)
 *
 * Output: every step prints one "EV ..." line (a NEW-VIEW is preceded by "EV VCSET r mask byzCert": the
 * VIEW-CHANGE senders it holds and the certificate value of BYZ's, 0 none) (spin -t replays them); `bftsim spec trail` reads them.
 */

#ifndef N
#define N 4
#endif
#define F 1
#ifndef BYZ
#define BYZ 0                      /* the Byzantine replica (0: primary of view 0; 1: primary of view 1) */
#endif
#define NVAL 2
#define FORGED 3                   /* a value whose client signature does not verify (R1) */
#define NV 2                       /* views 0 .. NV-1 */
#define PRIMARY(v) ((v) % N)

/* Q1: quorum = n - f; the mutant takes 2f+1, which is smaller when n > 3f+1. */
#ifdef QUORUM_2F_PLUS_1
#define Q (2*F+1)
#else
#define Q (N-F)
#endif
#ifdef PREPARE_QUORUM_WEAK
#define PQ F                       /* PREPAREs needed besides the PRE-PREPARE */
#else
#define PQ (Q-1)
#endif
#ifdef COMMIT_QUORUM_WEAK
#define CQ (F+1)
#else
#define CQ Q
#endif
#ifdef NEW_VIEW_WITHOUT_QUORUM
#define NVQ (F+1)
#else
#define NVQ Q
#endif

#define BIT(r) (1 << (r))
#define HONEST(r) ((r) != BYZ)
#define POP(m) ((((m)>>0)&1)+(((m)>>1)&1)+(((m)>>2)&1)+(((m)>>3)&1)+(((m)>>4)&1))

/* Pool of honest messages (bit r: honest replica r sent it). Values 0..FORGED index the digest. */
byte pp[NV];                        /* PRE-PREPARE(v, 1, d) of an honest primary: d, 0 = none */
byte prep[NV*4];                    /* PREPARE(v, 1, d, r): prep[v*4+d] bitmask of r */
byte com[NV*4];                     /* COMMIT(v, 1, d, r) */
bool vcSent[5];                     /* VIEW-CHANGE(1, h=0, P, r) */
byte vcCert[5];                     /* its P: the value of its view-0 prepared certificate, 0 = none */
byte nvO;                           /* honest primary's NEW-VIEW(1): 0 = not sent, else 1 + O's value (O[1] null/absent = 0) */

/* Replica state (index r; BYZ's entries unused). */
byte view[5];
bool changing[5];                   /* sent VIEW-CHANGE for view+1, not yet in it (V1) */
byte acc[5*NV];                     /* accepted PRE-PREPARE digest per view (N2) */
byte prepV[5];                      /* 1 + view of its prepared certificate, 0 = none (N3) */
byte prepD[5];
byte done[5];                       /* committed value, 0 = none (N5) */

/* Ghost state for the properties. */
byte hp[NV];                        /* bitmask of values prepared by some honest replica in view v */
byte hc[NV];                        /* bitmask of values committed-local by some honest replica in view v */
byte decided;                       /* first value committed by an honest replica */

/* Agreement (§4.5.1 safety): no two honest replicas commit different values at one sequence. */
#define AGREEMENT(d) assert(decided == 0 || decided == (d))
/* Validity: only client-signed values are committed (R1). */
#define VALIDITY(d) assert((d) >= 1 && (d) <= NVAL)
/* Key lemma (§4.4, "prepared in a later view ⇒ same value"): a value committed-local in view 0 is
 * the only one that can be prepared by an honest replica in view 1. */
#define LEMMA assert(hc[0] == 0 || (hp[1] & ~hc[0]) == 0)

/* Votes for (v, d): honest senders plus BYZ, which may vote for anything. PREPAREs of the primary
 * do not count (Q2). */
#define PREPARES(v, d) (POP(prep[(v)*4+(d)] & ~BIT(PRIMARY(v))) + (PRIMARY(v) != BYZ))
#define PREPARES_ANY(v) (POP((prep[(v)*4+1] | prep[(v)*4+2] | prep[(v)*4+3]) & ~BIT(PRIMARY(v))) + (PRIMARY(v) != BYZ))
#define COMMITS(v, d) (POP(com[(v)*4+(d)]) + 1)
#define COMMITS_ANY(v) (POP(com[(v)*4+1] | com[(v)*4+2] | com[(v)*4+3]) + 1)

/* A view-0 prepared certificate for d verifies (V2): a PRE-PREPARE for d signed by primary 0 and
 * PQ PREPAREs from other replicas. */
#ifdef PREPARE_WITHOUT_DIGEST_MATCH
#define CERT_OK(d) ((PRIMARY(0) == BYZ || pp[0] == (d)) && PREPARES_ANY(0) >= PQ)   /* N3 broken alike */
#else
#define CERT_OK(d) ((PRIMARY(0) == BYZ || pp[0] == (d)) && PREPARES(0, d) >= PQ)
#endif

/* R1: a request whose client signature fails is dropped; the mutant takes it. */
#ifdef SKIP_REQUEST_SIGNATURE_CHECK
#define SIGNED(d) true
#else
#define SIGNED(d) ((d) <= NVAL)
#endif

inline prepare(r, v, d) {
    /* N3: accept the PRE-PREPARE; a backup multicasts PREPARE. */
    acc[r*NV+v] = d;
    if
    :: PRIMARY(v) != r -> prep[v*4+d] = prep[v*4+d] | BIT(r)
    :: else -> skip
    fi
}

/* NEW-VIEW O (V4) from a nondeterministic set of VIEW-CHANGEs, valid ones only: sets o (the value of
 * the certificate with the highest view, 0 = none: sequence 1 left to a fresh PRE-PREPARE) and cnt. */
inline chooseNewView(o, cnt) {
    i = 0; cnt = 0; o = 0; vm = 0; bo = 0;
    do
    :: i < N ->
        if
        :: HONEST(i) && vcSent[i] ->
            if
            :: cnt++; vm = vm | BIT(i);
               if
               :: vcCert[i] != 0 && o == 0 -> o = vcCert[i]          /* V4 tie (same view): lowest id, as planNewView */
               :: else -> skip
               fi
            :: skip
            fi
        :: i == BYZ ->                                    /* BYZ's VIEW-CHANGE: any valid one, or none */
            if
            :: cnt++; vm = vm | BIT(i)
            :: CERT_OK(1) -> cnt++; vm = vm | BIT(i); bo = 1; if :: o == 0 -> o = 1 :: else -> skip fi
            :: CERT_OK(2) -> cnt++; vm = vm | BIT(i); bo = 2; if :: o == 0 -> o = 2 :: else -> skip fi
#ifdef ACCEPT_UNVERIFIED_VIEW_CHANGE
            :: cnt++; vm = vm | BIT(i); if :: bo = 1 :: bo = 2 fi; if :: o == 0 -> o = bo :: else -> skip fi   /* V2 broken: certificate not verified */
#endif
            :: skip
            fi
        :: else -> skip
        fi;
        i++
    :: else -> break
    od;
    i = 0
}

/* Honest VIEW-CHANGEs sent, plus BYZ's. */
#define VCS (vcSent[0]+vcSent[1]+vcSent[2]+vcSent[3]+vcSent[4] + 1)

/* A PRE-PREPARE r could accept in its view: the honest primary's, or (BYZ primary) any digest. */
#define PP_OK(r, d) (SIGNED(d) && ((PRIMARY(view[r]) == BYZ) || pp[view[r]] == (d)))
#ifdef ACCEPT_CONFLICTING_PRE_PREPARE
#define PP_FREE(r, d) (acc[(r)*NV+view[r]] != (d) && done[r] == 0)   /* N2 broken: a second one replaces the first */
#else
#define PP_FREE(r, d) (acc[(r)*NV+view[r]] == 0)
#endif
#define CAN_ACCEPT(r, d) (PP_OK(r, d) && PP_FREE(r, d))

inline stepAccept(r) {
    /* N1/N2: a backup in its view (not changing) accepts a PRE-PREPARE of the view's primary. */
    atomic { (r < N) && HONEST(r) && PRIMARY(view[r]) != r && !changing[r] && (CAN_ACCEPT(r, 1) || CAN_ACCEPT(r, 2) || CAN_ACCEPT(r, FORGED)) ->
        v = view[r];
        if
        :: CAN_ACCEPT(r, 1) -> d = 1
        :: CAN_ACCEPT(r, 2) -> d = 2
        :: CAN_ACCEPT(r, FORGED) -> d = FORGED
        fi;
        prepare(r, v, d);
        printf("EV ACCEPT %d %d %d %d\n", r, PRIMARY(v), v, d);
        v = 0; d = 0 }
}

#ifdef PREPARE_WITHOUT_DIGEST_MATCH
#define PREPARED_OK(r) (PREPARES_ANY(view[r]) >= PQ)          /* N3 broken: PREPAREs of any digest */
#else
#define PREPARED_OK(r) (PREPARES(view[r], acc[(r)*NV+view[r]]) >= PQ)
#endif

inline stepPrepared(r) {
    /* N3/N4: prepared (PRE-PREPARE + PQ matching PREPAREs) → multicast COMMIT. */
    atomic { (r < N) && HONEST(r) && !changing[r] && acc[(r)*NV+view[r]] != 0 && prepV[r] != view[r] + 1 && PREPARED_OK(r) ->
        v = view[r]; d = acc[r*NV+v];
        prepV[r] = v + 1; prepD[r] = d; hp[v] = hp[v] | BIT(d);
        com[v*4+d] = com[v*4+d] | BIT(r);
        printf("EV PREPARED %d %d %d\n", r, v, d);
        LEMMA;
        v = 0; d = 0 }
}

#ifdef COMMIT_WITHOUT_DIGEST_MATCH
/* N5 broken: COMMITs of any digest count, and the replica need not be prepared. */
#define COMMIT_OK(r) (acc[(r)*NV+view[r]] != 0 && COMMITS_ANY(view[r]) >= CQ)
#define COMMIT_VALUE(r) acc[(r)*NV+view[r]]
#else
#define COMMIT_OK(r) (prepV[r] == view[r] + 1 && COMMITS(view[r], prepD[r]) >= CQ)
#define COMMIT_VALUE(r) prepD[r]
#endif

inline stepCommit(r) {
    /* N5: committed-local with CQ matching COMMITs from distinct replicas. */
    atomic { (r < N) && HONEST(r) && !changing[r] && done[r] == 0 && COMMIT_OK(r) ->
        v = view[r]; d = COMMIT_VALUE(r);
        done[r] = d; hc[v] = hc[v] | BIT(d);
        printf("EV COMMITTED %d %d %d\n", r, v, d);
        AGREEMENT(d); VALIDITY(d); LEMMA;
        if :: decided == 0 -> decided = d :: else -> skip fi;
        v = 0; d = 0 }
}

inline stepTimeout(r) {
    /* V1: the view-change timer fires (abstracted: at any time in view 0) → VIEW-CHANGE(1, 0, P, r). */
    atomic { (r < N) && HONEST(r) && view[r] == 0 && !changing[r] ->
        changing[r] = true; vcSent[r] = true;
        if :: prepV[r] == 1 -> vcCert[r] = prepD[r] :: else -> vcCert[r] = 0 fi;
        printf("EV VIEWCHANGE %d 1 %d\n", r, vcCert[r]) }
}

inline stepAcceptNewView(r) {
    /* V5: a backup in view 0 (changing or not) accepts a NEW-VIEW(1) that verifies, PREPAREs O. */
    atomic { (r < N) && HONEST(r) && PRIMARY(1) != r && view[r] == 0 && ((HONEST(PRIMARY(1)) && nvO != 0) || (!HONEST(PRIMARY(1)) && VCS >= NVQ)) ->
        if
        :: HONEST(PRIMARY(1)) -> o = nvO - 1; cnt = NVQ
        :: else ->                                         /* BYZ primary: any NEW-VIEW that verifies */
            chooseNewView(o, cnt);
#ifdef ACCEPT_NEW_VIEW_WITHOUT_RECOMPUTE
            if :: o = 1 :: o = 2 :: skip fi               /* V5 broken: O taken as sent */
#endif
        fi;
        if
        :: cnt >= NVQ ->
            view[r] = 1; changing[r] = false;
            if :: o != 0 -> prepare(r, 1, o) :: else -> skip fi;
            printf("EV VCSET %d %d %d\n", r, vm, bo);
            printf("EV ACCEPTNEWVIEW %d %d %d %d\n", r, PRIMARY(1), cnt, o)
        :: else -> skip                                    /* too few chosen: no such NEW-VIEW */
        fi;
        o = 0; cnt = 0; vm = 0; bo = 0 }
}

active proctype pbft() {
    byte r, v, d, i, o, cnt, vm, bo;   /* vm, bo: the VIEW-CHANGE set chosen (bitmask) and BYZ's certificate, for EV VCSET */
    do
    /* N2: the honest primary of view 0 pre-prepares a client request. */
    :: atomic { HONEST(PRIMARY(0)) && pp[0] == 0 && !changing[PRIMARY(0)] && view[PRIMARY(0)] == 0 ->
        r = PRIMARY(0);
        if :: d = 1 :: d = 2 fi;
        pp[0] = d; acc[r*NV+0] = d;
        printf("EV PREPREPARE %d 0 %d\n", r, d); d = 0; r = 0 }
    /* N2: the honest primary of view 1 pre-prepares a fresh request when O left sequence 1 empty. */
    :: atomic { HONEST(PRIMARY(1)) && pp[1] == 0 && nvO == 1 ->
        r = PRIMARY(1);
        if :: d = 1 :: d = 2 fi;
        pp[1] = d; acc[r*NV+1] = d;
        printf("EV PREPREPARE %d 1 %d\n", r, d); d = 0; r = 0 }
    :: stepAccept(0)  :: stepAccept(1)  :: stepAccept(2)  :: stepAccept(3)  :: stepAccept(4)
    :: stepPrepared(0) :: stepPrepared(1) :: stepPrepared(2) :: stepPrepared(3) :: stepPrepared(4)
    :: stepCommit(0)  :: stepCommit(1)  :: stepCommit(2)  :: stepCommit(3)  :: stepCommit(4)
#ifndef NO_VIEW_CHANGE_TIMER
    :: stepTimeout(0) :: stepTimeout(1) :: stepTimeout(2) :: stepTimeout(3) :: stepTimeout(4)
#endif
    /* V3/V4: the honest primary of view 1, holding NVQ VIEW-CHANGEs (its own among them), sends NEW-VIEW. */
    :: atomic { HONEST(PRIMARY(1)) && nvO == 0 && vcSent[PRIMARY(1)] && VCS >= NVQ ->
        chooseNewView(o, cnt);
        if
        :: cnt >= NVQ ->
            nvO = o + 1; r = PRIMARY(1);
            view[r] = 1; changing[r] = false;
            if :: o != 0 -> pp[1] = o; acc[r*NV+1] = o :: else -> skip fi;
            printf("EV VCSET %d %d %d\n", r, vm, bo);
            printf("EV NEWVIEW %d %d %d\n", r, cnt, o)
        :: else -> skip
        fi;
        r = 0; o = 0; cnt = 0; vm = 0; bo = 0 }
    :: stepAcceptNewView(0) :: stepAcceptNewView(1) :: stepAcceptNewView(2) :: stepAcceptNewView(3) :: stepAcceptNewView(4)
    :: else -> break
    od;
#if (1 % N) != BYZ
    /* Liveness after GST: nothing is enabled any more, so every honest replica committed. */
    r = 0;
    do
    :: r < N -> assert(!HONEST(r) || done[r] != 0); r++
    :: else -> break
    od;
    printf("EV END live\n")
#endif
}
