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

static void stockroom_wakeup_handler(int signo) { (void)signo; }

/* The wake-up signal interrupts a thread blocked reading an idle kept-alive connection during
   shutdown. No SA_RESTART, so the blocking read returns EINTR. SIGUSR1 is libfcgi's own. */
static inline int stockroom_install_wakeup_signal(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stockroom_wakeup_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    return sigaction(signo, &action, NULL);
}

static inline int stockroom_group_id(const char *name, gid_t *gid) {
    struct group *entry = getgrnam(name);
    if (entry == NULL) return -1;
    *gid = entry->gr_gid;
    return 0;
}
#endif
