#ifndef STOCKROOM_CFASTCGI_SHIM_H
#define STOCKROOM_CFASTCGI_SHIM_H
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <unistd.h>
#include <grp.h>
#include <string.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

/* The pool's two internal signals are realtime signals (SIGRTMIN is a function call in glibc, not a
   constant Swift can import), so SIGUSR1 and SIGUSR2 stay free for operators. */

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

#ifndef SCHED_BATCH
#define SCHED_BATCH 3 /* <sched.h> defines it only under _GNU_SOURCE */
#endif

/* SCHED_BATCH for the calling thread: when nginx or MariaDB wakes it, it does not preempt them; it
   runs once they block, which saves a pair of context switches per wake-up. Returns 0 or an errno. */
static inline int stockroom_schedule_batch(void) {
    struct sched_param param;
    memset(&param, 0, sizeof param);
    return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
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

/* The listen backlog of a listening unix socket: connections waiting for accept() (`queued`) and the
   most it holds (`limit`), as `ss -xl` shows them (Recv-Q, Send-Q). Linux reports them only through
   sock_diag netlink (UDIAG_SHOW_RQLEN), looked up by the socket's inode. Returns 0, or -errno
   (-EAFNOSUPPORT where netlink sockets are not allowed, e.g. RestrictAddressFamilies= without AF_NETLINK). */
static inline int stockroom_listen_queue(int listen_fd, unsigned int *queued, unsigned int *limit) {
    struct stat info;
    if (fstat(listen_fd, &info) != 0) return -errno;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return -errno;
    struct timeval timeout = { .tv_sec = 1, .tv_usec = 0 };
    setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct {
        struct nlmsghdr header;
        struct unix_diag_req request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.request.sdiag_family = AF_UNIX;
    message.request.udiag_states = 1u << 10; /* TCP_LISTEN */
    message.request.udiag_ino = (unsigned int)info.st_ino;
    message.request.udiag_show = UDIAG_SHOW_RQLEN;
    message.request.udiag_cookie[0] = ~0u;
    message.request.udiag_cookie[1] = ~0u;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    if (sendto(nl, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno; close(nl); return -saved;
    }
    long buffer[1024]; /* long: netlink messages are 4-byte aligned */
    ssize_t got = recv(nl, buffer, sizeof buffer, 0);
    int saved = errno;
    close(nl);
    if (got < 0) return -saved;
    struct nlmsghdr *reply = (struct nlmsghdr *)buffer;
    if (!NLMSG_OK(reply, (unsigned int)got)) return -EPROTO;
    if (reply->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *error = (struct nlmsgerr *)NLMSG_DATA(reply);
        return error->error != 0 ? error->error : -EPROTO;
    }
    if (reply->nlmsg_type != SOCK_DIAG_BY_FAMILY) return -EPROTO;
    struct unix_diag_msg *diag = (struct unix_diag_msg *)NLMSG_DATA(reply);
    int length = (int)(reply->nlmsg_len - NLMSG_LENGTH(sizeof *diag));
    for (struct rtattr *attribute = (struct rtattr *)(diag + 1); RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length)) {
        if (attribute->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(attribute) >= sizeof(struct unix_diag_rqlen)) {
            struct unix_diag_rqlen *rqlen = (struct unix_diag_rqlen *)RTA_DATA(attribute);
            *queued = rqlen->udiag_rqueue;
            *limit = rqlen->udiag_wqueue;
            return 0;
        }
    }
    return -ENOENT;
}
#endif
