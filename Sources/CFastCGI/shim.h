#ifndef STOCKROOM_CFASTCGI_SHIM_H
#define STOCKROOM_CFASTCGI_SHIM_H
#include <fcgiapp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <pthread.h>
#include <errno.h>
#include <unistd.h>
#include <grp.h>
#include <string.h>

/* The pool's two internal signals are realtime signals (SIGRTMIN is a function call in glibc, not a
   constant Swift can import), so SIGUSR1 (libfcgi's) and SIGUSR2 stay free for operators. */

/* Interrupts a thread blocked reading or writing a silent peer (idle monitor, end of a stop). */
static inline int stockroom_interrupt_signal(void) { return SIGRTMIN + 1; }
/* Wakes a thread blocked in accept() so it picks up a reload. Blocked in responder threads except
   inside accept(), so it can never cut a read short. */
static inline int stockroom_wakeup_signal(void) { return SIGRTMIN + 2; }

static void stockroom_empty_handler(int signo) { (void)signo; }

/* No SA_RESTART, so the blocking call the signal lands in returns EINTR. */
static inline int stockroom_install_empty_handler(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stockroom_empty_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    return sigaction(signo, &action, NULL);
}

static inline int stockroom_block_in_thread(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* accept() with `wakeup` unblocked for the call only: a wake-up sent while the thread is elsewhere
   stays pending until its next accept. Returns the new fd or -1 with errno set. */
static inline int stockroom_accept_wakeable(int listen_fd, int wakeup) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, wakeup);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    int fd = accept(listen_fd, NULL, NULL);
    int saved = errno;
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    errno = saved;
    return fd;
}

static inline int stockroom_group_id(const char *name, gid_t *gid) {
    struct group *entry = getgrnam(name);
    if (entry == NULL) return -1;
    *gid = entry->gr_gid;
    return 0;
}
#endif
