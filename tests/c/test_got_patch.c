/* Unit tests of the GOT patcher (csrc/os/got_patch.c): this test program's own calls to
 * getppid, through its PLT (JUMP_SLOT) and through a pointer taken to it (GLOB_DAT), reach a
 * replacement while patched and the real function again once restored. */
#define _GNU_SOURCE
#include "check.h"
#include "got_patch.h"

#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

static pid_t other_getppid(void)
{
    return 7;
}

static pid_t fake_getppid(void)
{
    return 424242;
}

/* Taking the address makes the compiler load it from the GOT (a GLOB_DAT relocation). */
static pid_t (*volatile through_pointer)(void);

static const moth_got_hook HOOKS[] = {{"getppid", (void *)fake_getppid},
                                      {"no_such_symbol_anywhere", (void *)fake_getppid}};

static void test_calls_reach_the_replacement_until_restored(void)
{
    pid_t real = getppid();
    through_pointer = getppid;
    CHECK(real != 424242);
    moth_got_patch gp;
    moth_got_patch_init(&gp, HOOKS, 2, NULL, 0);
    size_t patched = 0;
    moth_error err;
    CHECK(moth_got_patch_apply(&gp, &patched, &err) == 0);
    CHECK(patched >= 1);
    CHECK_EQ_U(getppid(), 424242);
    /* objects patched once are not patched again */
    size_t again = 99;
    CHECK(moth_got_patch_apply(&gp, &again, &err) == 0);
    CHECK_EQ_U(again, 0);
    moth_got_patch_restore(&gp);
    CHECK_EQ_U(getppid(), real);
    CHECK_EQ_U(through_pointer(), real);
    CHECK_EQ_U(gp.nslots, 0);
    /* and again after a restore */
    CHECK(moth_got_patch_apply(&gp, &patched, &err) == 0);
    CHECK(patched >= 1);
    CHECK_EQ_U(getppid(), 424242);
    moth_got_patch_restore(&gp);
    CHECK_EQ_U(getppid(), real);
    moth_got_patch_free(&gp);
}

/* A slot that someone else rewrote after moth is theirs: restore leaves it. */
static void test_restore_leaves_slots_rewritten_since(void)
{
    pid_t real = getppid();
    moth_got_patch gp, gp2, gp3;
    moth_got_patch_init(&gp, HOOKS, 1, NULL, 0);
    CHECK(moth_got_patch_apply(&gp, NULL, NULL) == 0);
    CHECK(gp.nslots >= 1);
    /* another tool patches over moth's replacement */
    moth_got_hook theirs[] = {{"getppid", (void *)other_getppid}};
    moth_got_patch_init(&gp2, theirs, 1, NULL, 0);
    CHECK(moth_got_patch_apply(&gp2, NULL, NULL) == 0);
    CHECK_EQ_U(getppid(), 7);
    moth_got_patch_restore(&gp);
    CHECK_EQ_U(getppid(), 7);
    moth_got_patch_restore(&gp2); /* gives back what it found: moth's replacement */
    CHECK_EQ_U(getppid(), 424242);
    /* bind the slots to the real function, as the loader would have */
    moth_got_hook bound[] = {{"getppid", dlsym(RTLD_DEFAULT, "getppid")}};
    moth_got_patch_init(&gp3, bound, 1, NULL, 0);
    CHECK(moth_got_patch_apply(&gp3, NULL, NULL) == 0);
    CHECK_EQ_U(getppid(), real);
    moth_got_patch_free(&gp3);
    moth_got_patch_free(&gp2);
    moth_got_patch_free(&gp);
}

/* Objects holding a skip address are left alone: this program is, so its calls stay real. */
static void test_skipped_objects_are_not_patched(void)
{
    pid_t real = getppid();
    const void *skip[] = {(const void *)test_skipped_objects_are_not_patched};
    moth_got_patch gp;
    moth_got_patch_init(&gp, HOOKS, 1, skip, 1);
    CHECK(moth_got_patch_apply(&gp, NULL, NULL) == 0);
    CHECK_EQ_U(getppid(), real);
    moth_got_patch_restore(&gp);
    moth_got_patch_free(&gp);
}

int main(void)
{
    RUN(test_calls_reach_the_replacement_until_restored);
    RUN(test_restore_leaves_slots_rewritten_since);
    RUN(test_skipped_objects_are_not_patched);
    return check_summary();
}
