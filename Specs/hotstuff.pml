/*
 * hotstuff.pml — chained HotStuff (Yin et al., PODC'19, §4–5, Alg. 3–5: three-chain commit) and,
 * with -DTWO_CHAIN, two-chain HotStuff / Jolteon (Gelashvili et al., FC'22, §4; DiemBFT v4
 * safe_to_vote) for SPIN. Rule ids are Specs/HotStuff.md's.
 *
 * Scope: n = 4 (N = 5 for the quorum arithmetic variant), f = 1, the Byzantine replica BYZ leads every
 * view (like ForkingLeader with leader_schedule [BYZ]): an honest leader's proposal is one of the
 * proposals a Byzantine leader may make, so safety here covers every leader schedule. Views 1..MAXV,
 * at most MAXB blocks (genesis included). Block ids are created in non-decreasing view order: the
 * order in which the leader builds blocks is invisible to honest replicas (they see a block only when
 * they receive it), so this only removes renamings of the same block tree.
 *
 * Blocks (B1): block b has a view bv[b] > bv[parent], its parent bp[b] which its justify QC certifies,
 * and a height. The leader may propose any block on any certified block, several per view
 * (equivocation), and send each to any subset of replicas (a replica "receives" a proposal when it
 * takes the vote step for it). A QC for b exists once q votes exist: the honest voters recorded in
 * votes[b] plus BYZ, which votes for anything. QCs are transferable, so an honest replica may learn
 * any existing QC at any time (proposals, NEW-VIEW, SYNC): learnQC.
 *
 * Pacemaker (P1–P12) abstracted to view changes: a replica may leave any view above its last vote at
 * any time (a local timeout sets lastVotedView, H-V1/P4). Two-chain: a timeout of view v records the
 * replica's highQC view (TIMEOUT, T1); a TC for v exists with q timeouts (BYZ's among them, reporting
 * anything), and the leader picks the q-1 honest TIMEOUTs with the lowest reports (T3's bound is then
 * the weakest a valid TC allows).
 *
 * Liveness is not checked here: the one Byzantine replica leads every view, so no view has an honest
 * leader. A liveness model needs honest leaders (rotation) and a GST after which the leader's proposal
 * and every vote arrive; with the pacemaker abstracted to arbitrary timeouts that is a different
 * model (view synchronisation), left out to keep the state space exhaustive.
 *
 * Mutants (-D), named after TestMutant.swift:
 *   COMMIT_ON_PARENT_LINKS (H-C1c)  VOTE_WITHOUT_LOCK_CHECK (H-V2)  LOCK_NEVER_UPDATED (H-L1c)
 *   COMMIT_ON_TWO_CHAIN (H-C1c)     QUORUM_ONE_SHORT (H-Q1)         VOTE_TWICE_IN_VIEW (H-V1)
 *   QUORUM_2F_PLUS_1 (H-Q1, with -DN=5)
 *
 * Output: every step prints one "EV ..." line; `bftsim spec trail` reads them.
 */

#ifndef N
#define N 4
#endif
#define F 1
#define BYZ 3
#ifndef MAXV
#ifdef TWO_CHAIN
#define MAXV 3                       /* timeouts and TCs multiply the states: one view less */
#else
#define MAXV 4
#endif
#endif
#ifndef MAXB
#ifdef TWO_CHAIN
#define MAXB 4
#else
#define MAXB 5
#endif
#endif
#define NONE 255

#ifdef QUORUM_2F_PLUS_1
#define Q (2*F+1)
#else
#ifdef QUORUM_ONE_SHORT
#define Q (N-F-1)
#else
#define Q (N-F)
#endif
#endif

#define HONEST(r) ((r) != BYZ)
#define POP(m) ((((m)>>0)&1)+(((m)>>1)&1)+(((m)>>2)&1)+(((m)>>3)&1)+(((m)>>4)&1))
#define CERTIFIED(b) ((b) == 0 || POP(votes[b]) + 1 >= Q)

byte nb = 1;                         /* blocks 0..nb-1; 0 is genesis (view 0, height 0, certified) */
byte bv[MAXB];
byte bp[MAXB];
byte bh[MAXB];
bool btc[MAXB];                      /* two-chain: the proposal carries a TC of view bv-1 (T3) */
byte votes[MAXB];                    /* honest voters (bitmask) */

byte lastVoted[5];                   /* H-V1 */
byte lockB[5];                       /* block of lockedQC (H-L1) */
byte highV[5];                       /* view of highQC */
byte comB[5];                        /* highest committed block (H-C2) */
byte toHQ[(MAXV+1)*5];               /* two-chain: 1 + highQC view reported in TIMEOUT(v) by r, 0 = none */

byte cAt[MAXB];                      /* ghost: block committed at height h by some honest replica, 0 = none (genesis at 0) */

/* Does x extend y (y an ancestor of x or x itself)? Heights decrease along parents, so MAXB steps do. */
inline extends(x, y, res) {
    t = x; res = false;
    do
    :: t == y -> res = true; break
    :: t != y && t == 0 -> break
    :: t != y && t != 0 -> t = bp[t]
    od;
    t = 0
}

/* Key lemma (HotStuff §5 Lemma 2 / Jolteon §4): a block committed by an honest replica is extended by
 * every certified block of a higher view; and at most one block per view is certified (H-Q1 + H-V1). */
inline lemma() {
    k = 1;
    do
    :: k < nb ->
        j = 1;
        do
        :: j < nb ->
            if
            :: j != k && CERTIFIED(j) && CERTIFIED(k) -> assert(bv[j] != bv[k])          /* unique QC per view */
            :: else -> skip
            fi;
            if
            :: cAt[bh[k]] == k && CERTIFIED(j) && bv[j] > bv[k] -> extends(j, k, ok); assert(ok)
            :: else -> skip
            fi;
            j++
        :: else -> break
        od;
        k++
    :: else -> break
    od;
    k = 0; j = 0; ok = false
}

/* H-C2 + agreement: r commits b and its ancestors above its committed block, if b extends it. */
inline commit(r, b) {
    extends(b, comB[r], ok);
    if
    :: ok && b != comB[r] ->
        x = b;
        do
        :: x != comB[r] ->
            assert(CERTIFIED(x));                                      /* validity: only certified blocks */
            assert(cAt[bh[x]] == 0 || cAt[bh[x]] == x);                /* agreement */
            cAt[bh[x]] = x;
            x = bp[x]
        :: else -> break
        od;
        comB[r] = b;
        printf("EV COMMIT %d %d %d %d\n", r, b, bv[b], bh[b]);
        x = 0
    :: else -> skip
    fi;
    ok = false
}

/* H-L1 and H-C1 on learning QC(q2) (the paper's update(b*) on b* = q2): */
inline update(r, q2) {
    if :: bv[q2] > highV[r] -> highV[r] = bv[q2] :: else -> skip fi;
#ifdef TWO_CHAIN
    /* H-L1t: lock on the highest one-chain; H-C1t: commit q1 = parent if consecutive views. */
    if :: bv[q2] > bv[lockB[r]] -> lockB[r] = q2 :: else -> skip fi;
    q1 = bp[q2];
    if
    :: q2 != 0 && bv[q2] == bv[q1] + 1 -> commit(r, q1)
    :: else -> skip
    fi;
#else
    q1 = bp[q2]; q0 = bp[q1];
#ifndef LOCK_NEVER_UPDATED
    /* H-L1c: lockedQC := b''.justify (QC of q1) if higher. */
    if :: q2 != 0 && bv[q1] > bv[lockB[r]] -> lockB[r] = q1 :: else -> skip fi;
#endif
#if defined(COMMIT_ON_PARENT_LINKS)
    if :: q2 != 0 && q1 != 0 -> commit(r, q0) :: else -> skip fi;             /* parent links only */
#elif defined(COMMIT_ON_TWO_CHAIN)
    if :: q2 != 0 && bv[q2] == bv[q1] + 1 -> commit(r, q1) :: else -> skip fi; /* two-chain in chained */
#else
    /* H-C1c: three-chain q0 ← q1 ← q2 with consecutive views. */
    if
    :: q2 != 0 && q1 != 0 && bv[q2] == bv[q1] + 1 && bv[q1] == bv[q0] + 1 -> commit(r, q0)
    :: else -> skip
    fi;
#endif
    q0 = 0;
#endif
    q1 = 0
}

/* T3: the weakest TC of view w (BYZ and the q-1 honest TIMEOUTs with the lowest reports): sets tcok
 * and tcmax (the highest highQC view reported). */
inline tcOf(w) {
    tcok = false; tcmax = 0;
    do
    :: !tcok && tcmax <= MAXV ->
        c = 0; k = 0;
        do
        :: k < N -> if :: HONEST(k) && toHQ[(w)*5+k] != 0 && toHQ[(w)*5+k] - 1 <= tcmax -> c++ :: else -> skip fi; k++
        :: else -> break
        od;
        if :: c + 1 >= Q -> tcok = true :: else -> tcmax++ fi
    :: else -> break
    od;
    c = 0; k = 0
}

#ifdef VOTE_WITHOUT_LOCK_CHECK
#define SAFE_NODE(r, b) true
#else
#ifdef TWO_CHAIN
/* H-V2t: consecutive views, or a TC of the previous view whose reports the justify covers. */
#define SAFE_NODE(r, b) (bv[b] == bv[bp[b]] + 1 || (btc[b] && tcok && bv[bp[b]] >= tcmax))
#else
/* H-V2c (safeNode): extends the locked block, or justify newer than the lock. */
#define SAFE_NODE(r, b) (ok || bv[bp[b]] > bv[lockB[r]])
#endif
#endif
#ifdef VOTE_TWICE_IN_VIEW
#define FRESH(r, b) (bv[b] >= lastVoted[r] && !(votes[b] & (1 << (r))))   /* H-V1 broken: same view again */
#else
#define FRESH(r, b) (bv[b] > lastVoted[r])
#endif

/* An honest replica receives proposal b: learns its justify (QC of the parent), then votes if H-V1
 * and H-V2 allow (the vote goes to the next leader, BYZ). */
inline stepVote(r) {
    atomic { (r < N) && HONEST(r) ->
        if
        :: b = 1 :: (nb > 2) -> b = 2 :: (nb > 3) -> b = 3 :: (nb > 4) -> b = 4 :: (nb > 5) -> b = 5 :: (nb > 6) -> b = 6
        fi;
        if
        :: b < nb && FRESH(r, b) ->
            update(r, bp[b]);
            extends(b, lockB[r], ok);
#ifdef TWO_CHAIN
            if :: btc[b] -> tcOf(bv[b] - 1) :: else -> skip fi;
#endif
            if
            :: SAFE_NODE(r, b) ->
                lastVoted[r] = bv[b]; votes[b] = votes[b] | (1 << r);
                printf("EV VOTE %d %d %d\n", r, b, bv[b]);
                lemma()
            :: else -> printf("EV REFUSE %d %d %d\n", r, b, bv[b])
            fi
        :: else -> skip
        fi;
        b = 0; ok = false; tcok = false; tcmax = 0 }
}

/* An honest replica learns an existing QC (through a proposal, NEW-VIEW, SYNC, ...). */
inline stepLearn(r) {
    atomic { (r < N) && HONEST(r) ->
        if
        :: b = 1 :: (nb > 2) -> b = 2 :: (nb > 3) -> b = 3 :: (nb > 4) -> b = 4 :: (nb > 5) -> b = 5 :: (nb > 6) -> b = 6
        fi;
        if
        :: b < nb && CERTIFIED(b) && bv[b] > highV[r] -> printf("EV LEARN %d %d %d\n", r, b, bv[b]); update(r, b)
        :: else -> skip
        fi;
        b = 0 }
}

#ifdef TWO_CHAIN
/* P4/T1: a local timeout of view v > lastVoted: lastVoted := v, TIMEOUT(v, highQC). */
inline stepTimeout(r) {
    atomic { (r < N) && HONEST(r) && lastVoted[r] < MAXV ->
        v = lastVoted[r] + 1;
        do
        :: v < MAXV -> v++
        :: true -> break
        od;
        lastVoted[r] = v; toHQ[v*5+r] = highV[r] + 1;
        printf("EV TIMEOUT %d %d %d\n", r, v, highV[r]);
        v = 0 }
}
#endif

active proctype hotstuff() {
    byte b, v, p, x, t, q0, q1, j, k, c, tcmax;
    bool ok, tcok;
    do
    /* The Byzantine leader proposes a block of view v on any certified block p (B1: v > bv[p]). */
    :: atomic { nb < MAXB ->
        p = 0;
        do
        :: p + 1 < nb -> p++
        :: true -> break
        od;
        v = bv[p] + 1;
        if :: v < bv[nb-1] -> v = bv[nb-1] :: else -> skip fi;   /* ids in view order (a symmetry reduction) */
        do
        :: v < MAXV -> v++
        :: true -> break
        od;
        if
        :: CERTIFIED(p) && v <= MAXV ->
            bv[nb] = v; bp[nb] = p; bh[nb] = bh[p] + 1;
#ifdef TWO_CHAIN
            if :: v > bv[p] + 1 -> btc[nb] = true :: else -> skip fi;   /* carries TC(v-1), checked at vote */
#endif
            printf("EV PROPOSE %d %d %d %d %d\n", BYZ, nb, v, p, bh[nb]);
            nb++
        :: else -> skip
        fi;
        p = 0; v = 0 }
    :: stepVote(0) :: stepVote(1) :: stepVote(2) :: stepVote(3) :: stepVote(4)
    :: stepLearn(0) :: stepLearn(1) :: stepLearn(2) :: stepLearn(3) :: stepLearn(4)
#ifdef TWO_CHAIN
    :: stepTimeout(0) :: stepTimeout(1) :: stepTimeout(2) :: stepTimeout(3) :: stepTimeout(4)
#endif
    :: else -> break
    od
}
