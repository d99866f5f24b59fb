/*
 * switch.c: the context switch between coroutines.
 *
 * On x86-64 and aarch64 (unless PORTABLE=1) a few instructions: push the
 * callee-saved registers on the running stack, store the stack pointer
 * in from, load to's, pop its registers and return into it. The
 * caller-saved registers need no saving: the C compiler already assumes
 * a call clobbers them. No system call, where glibc's swapcontext(3)
 * makes one (rt_sigprocmask) to save and restore the signal mask, which
 * coroutines of one thread share anyway. Elsewhere, ucontext(3).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"

#if !defined(UP_PORTABLE) && defined(__ELF__) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define UP_CORO_ASM 1

void	up_coro_swap(void **save, void *sp);

#if defined(__x86_64__)
/*
 * up_coro_swap(save, sp): rdi = where to save this stack pointer, rsi =
 * the stack pointer to run. rbx, rbp, r12-r15 are callee-saved (System V
 * ABI); the return address is already on the stack.
 */
__asm__(
	".text\n"
	".globl up_coro_swap\n"
	".type up_coro_swap,@function\n"
	"up_coro_swap:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size up_coro_swap,.-up_coro_swap\n");
#define SAVED_WORDS	6	/* then the return address */
#else
/*
 * aarch64: x0 = where to save sp, x1 = the sp to run. x19-x28, the frame
 * pointer x29, the link register x30 (where ret goes) and d8-d15 are
 * callee-saved (AAPCS64): 20 words, 160 bytes, 176 to keep sp aligned.
 */
__asm__(
	".text\n"
	".globl up_coro_swap\n"
	".type up_coro_swap,%function\n"
	"up_coro_swap:\n"
	"	sub sp, sp, #176\n"
	"	stp x19, x20, [sp, #0]\n"
	"	stp x21, x22, [sp, #16]\n"
	"	stp x23, x24, [sp, #32]\n"
	"	stp x25, x26, [sp, #48]\n"
	"	stp x27, x28, [sp, #64]\n"
	"	stp x29, x30, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	mov x2, sp\n"
	"	str x2, [x0]\n"
	"	mov sp, x1\n"
	"	ldp x19, x20, [sp, #0]\n"
	"	ldp x21, x22, [sp, #16]\n"
	"	ldp x23, x24, [sp, #32]\n"
	"	ldp x25, x26, [sp, #48]\n"
	"	ldp x27, x28, [sp, #64]\n"
	"	ldp x29, x30, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	add sp, sp, #176\n"
	"	ret\n"
	".size up_coro_swap,.-up_coro_swap\n");
#endif

/*
 * Lays out c's fresh stack as up_coro_swap leaves a switched-out one, so
 * that the first switch to c "returns" into entry. Returns 0.
 */
int
up_coro_prepare(struct up_coro *c, void (*entry)(void))
{
	uintptr_t top = ((uintptr_t)c->map + c->maplen) & ~(uintptr_t)15;
	void **sp;

#if defined(__x86_64__)
	/*
	 * entry is entered by ret, as if called: rsp + 8 a multiple of 16
	 * there, a null return address above it (entry never returns).
	 */
	sp = (void **)(top - 16);
	sp[1] = NULL;
	sp[0] = (void *)(uintptr_t)entry;
	sp -= SAVED_WORDS;
	memset(sp, 0, SAVED_WORDS * sizeof(*sp));
#else
	sp = (void **)(top - 176);
	memset(sp, 0, 176);
	sp[11] = (void *)(uintptr_t)entry;	/* x30, at sp + 88 */
#endif
	c->sp = sp;
	return 0;
}

/* The scheduler's own context needs nothing more. Returns 0. */
int
up_coro_main_init(struct up_coro *c)
{
	(void)c;
	return 0;
}

void
up_coro_switch(struct up_coro *from, struct up_coro *to)
{
	up_coro_swap(&from->sp, to->sp);
}

/* How this build switches. */
const char *
up_coro_switch_kind(void)
{
#if defined(__x86_64__)
	return "asm x86-64";
#else
	return "asm aarch64";
#endif
}

#else /* ucontext */
#include <ucontext.h>

/*
 * Gives c a ucontext that starts entry on its stack. Returns 0, or -1
 * with errno.
 */
int
up_coro_prepare(struct up_coro *c, void (*entry)(void))
{
	ucontext_t *uc;

	if (c->uc == NULL && (c->uc = calloc(1, sizeof(ucontext_t))) == NULL)
		return -1;
	uc = c->uc;
	if (getcontext(uc) == -1)
		return -1;
	uc->uc_stack.ss_sp = c->map + (c->maplen - c->stack);
	uc->uc_stack.ss_size = c->stack;
	uc->uc_link = NULL;
	makecontext(uc, entry, 0);
	return 0;
}

/* The scheduler's own context: room to save it in. 0, or -1 with errno. */
int
up_coro_main_init(struct up_coro *c)
{
	if (c->uc == NULL && (c->uc = calloc(1, sizeof(ucontext_t))) == NULL)
		return -1;
	return 0;
}

void
up_coro_switch(struct up_coro *from, struct up_coro *to)
{
	swapcontext(from->uc, to->uc);
}

/* How this build switches. */
const char *
up_coro_switch_kind(void)
{
	return "ucontext";
}
#endif
