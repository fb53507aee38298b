/*
 * test_config.c - the configuration table: defaults, INI parsing, every error kind with
 * its FILE:LINE, hard caps at N-1/N/N+1, print -> reload, environment and set().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"

static char tmp_path[512];

/* Writes text to a fresh temporary file; returns its path (valid until the next call). */
static const char *write_conf(const char *text)
{
    const char *dir = getenv("LG_TMPDIR");
    int fd;

    if (dir == NULL)
        dir = "/tmp";
    (void)mkdir(dir, 0700);
    snprintf(tmp_path, sizeof tmp_path, "%s/test_config_XXXXXX", dir);
    fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmp_path;
}

/* Loads text over the defaults; returns the status, err gets the message. */
static int load_text(lg_config *cfg, const char *text, char *err, size_t err_len)
{
    const char *path = write_conf(text);
    int rc;

    lg_config_default(cfg);
    err[0] = '\0';
    rc = lg_config_load_file(cfg, path, err, err_len);
    unlink(path);
    return rc;
}

/* Expects the load to fail with message pattern, where "%s" stands for the file's path. */
static void expect_error(const char *text, const char *pattern)
{
    lg_config cfg;
    char err[512];
    char want[1024];
    int rc = load_text(&cfg, text, err, sizeof err);
    const char *mark = strstr(pattern, "%s");

    assert_non_null(mark);
    snprintf(want, sizeof want, "%.*s%s%s", (int)(mark - pattern), pattern, tmp_path, mark + 2);
    assert_int_not_equal(rc, 0);
    assert_string_equal(err, want);
}

static void test_defaults_match_design(void **state)
{
    lg_config cfg;
    lg_rule_conf *user, *ip, *user_ip;

    (void)state;
    lg_config_default(&cfg);
    user = lg_config_rule(&cfg, "user");
    ip = lg_config_rule(&cfg, "ip");
    user_ip = lg_config_rule(&cfg, "user_ip");
    assert_non_null(user);
    assert_non_null(ip);
    assert_non_null(user_ip);
    assert_null(lg_config_rule(&cfg, "nope"));
    assert_true(user->enabled);
    assert_int_equal(user->threshold, 5);
    assert_int_equal(user->window_ms, 60000);
    assert_int_equal(user->block_for_ms, 15 * 60 * 1000);
    assert_true(user->reset_on_success);
    assert_false(ip->enabled);
    assert_false(user_ip->enabled);
    assert_string_equal(cfg.bus_url, "embedded");
    assert_string_equal(cfg.store_url, "loginguard.db");
    assert_string_equal(cfg.http_listen, "127.0.0.1");
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.jwt_secret, "");
    assert_int_equal(cfg.bus.queue_max, LG_BUS_QUEUE_MAX_DEFAULT);
    assert_int_equal(cfg.log_level, LG_INFO);
}

static void test_file_sets_rule_and_section_keys(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load_text(&cfg,
                               "# comment\n; another\n\n"
                               "[rule user]\nthreshold = 3\nwindow_ms = 30000\n"
                               "[rule ip]\nenabled = true\nkeys_max = 1000\n"
                               "[ rule  user_ip ]\nreset_on_success = no\n"
                               "[bus]\nurl = kafka://127.0.0.1:9092\nreplication = 3\n"
                               "[store]\nurl = /var/lib/lg/audit.db\n"
                               "[http]\nlisten = ::1\nport = 9090\n"
                               "[log]\nlevel = DEBUG\n",
                               err, sizeof err),
                     0);
    assert_int_equal(lg_config_rule(&cfg, "user")->threshold, 3);
    assert_int_equal(lg_config_rule(&cfg, "user")->window_ms, 30000);
    assert_true(lg_config_rule(&cfg, "ip")->enabled);
    assert_int_equal(lg_config_rule(&cfg, "ip")->keys_max, 1000);
    assert_false(lg_config_rule(&cfg, "user_ip")->reset_on_success);
    assert_string_equal(cfg.bus_url, "kafka://127.0.0.1:9092");
    assert_int_equal(cfg.bus.replication, 3);
    assert_string_equal(cfg.store_url, "/var/lib/lg/audit.db");
    assert_string_equal(cfg.http_listen, "::1");
    assert_int_equal(cfg.http_port, 9090);
    assert_int_equal(cfg.log_level, LG_DEBUG);
}

static void test_ms_values_accept_units(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load_text(&cfg, "[rule user]\nwindow_ms = 90s\nblock_for_ms = 2h\n"
                                     "[rule ip]\nwindow_ms = 1d\nblock_for_ms = 15m\n"
                                     "[bus]\nfetch_wait_max_ms = 250ms\n",
                               err, sizeof err),
                     0);
    assert_int_equal(lg_config_rule(&cfg, "user")->window_ms, 90000);
    assert_int_equal(lg_config_rule(&cfg, "user")->block_for_ms, 2 * 3600000);
    assert_int_equal(lg_config_rule(&cfg, "ip")->window_ms, 86400000);
    assert_int_equal(lg_config_rule(&cfg, "ip")->block_for_ms, 15 * 60000);
    assert_int_equal(cfg.bus.fetch_wait_max_ms, 250);
    /* units only for ms keys */
    expect_error("[rule user]\nthreshold = 5s\n",
                 "invalid threshold '5s' for rule 'user' (%s:2): must be 1..64");
    expect_error("[rule user]\nwindow_ms = 1w\n",
                 "invalid window_ms '1w' for rule 'user' (%s:2): must be 1..86400000");
}

static void test_window_ms_zero_names_key_rule_file_line_and_range(void **state)
{
    (void)state;
    expect_error("[rule user]\nthreshold = 5\n\n# below\nwindow_ms = 0\n",
                 "invalid window_ms '0' for rule 'user' (%s:5): must be 1..86400000");
}

static void test_window_ms_at_cap_loads_and_one_more_fails(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load_text(&cfg, "[rule user]\nwindow_ms = 86399999\n", err, sizeof err), 0);
    assert_int_equal(load_text(&cfg, "[rule user]\nwindow_ms = 86400000\n", err, sizeof err), 0);
    assert_int_equal(lg_config_rule(&cfg, "user")->window_ms, LG_WINDOW_MS_MAX);
    expect_error("[rule user]\nwindow_ms = 86400001\n",
                 "invalid window_ms '86400001' for rule 'user' (%s:2): must be 1..86400000");
    assert_int_equal(load_text(&cfg, "[rule user]\nwindow_ms = 1\n", err, sizeof err), 0);
}

static void test_threshold_at_cap_loads_and_above_cap_fails(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    assert_int_equal(load_text(&cfg, "[rule user]\nthreshold = 63\n", err, sizeof err), 0);
    assert_int_equal(load_text(&cfg, "[rule user]\nthreshold = 64\n", err, sizeof err), 0);
    assert_int_equal(lg_config_rule(&cfg, "user")->threshold, LG_THRESHOLD_MAX);
    expect_error("[rule user]\nthreshold = 65\n",
                 "invalid threshold '65' for rule 'user' (%s:2): must be 1..64");
    expect_error("[rule user]\nthreshold = 0\n",
                 "invalid threshold '0' for rule 'user' (%s:2): must be 1..64");
    expect_error("[rule user]\nthreshold = -1\n",
                 "invalid threshold '-1' for rule 'user' (%s:2): must be 1..64");
    expect_error("[rule user]\nthreshold = 99999999999999999999999\n",
                 "invalid threshold '99999999999999999999999' for rule 'user' (%s:2): "
                 "must be 1..64");
}

static void test_keys_max_may_lower_but_not_exceed_hard_cap(void **state)
{
    lg_config cfg;
    char err[512];
    char text[128];
    char want[256];

    (void)state;
    snprintf(text, sizeof text, "[rule user]\nkeys_max = %u\n", LG_KEYS_MAX_CAP);
    assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
    assert_int_equal(lg_config_rule(&cfg, "user")->keys_max, LG_KEYS_MAX_CAP);
    snprintf(text, sizeof text, "[rule user]\nkeys_max = %u\n", LG_KEYS_MAX_CAP + 1);
    snprintf(want, sizeof want, "invalid keys_max '%u' for rule 'user' (%%s:2): must be 1..%u",
             LG_KEYS_MAX_CAP + 1, LG_KEYS_MAX_CAP);
    expect_error(text, want);
    snprintf(text, sizeof text, "[bus]\nqueue_max = %d\n", LG_BUS_QUEUE_MAX_CAP + 1);
    snprintf(want, sizeof want, "invalid queue_max '%d' in [bus] (%%s:2): must be 1..%d",
             LG_BUS_QUEUE_MAX_CAP + 1, LG_BUS_QUEUE_MAX_CAP);
    expect_error(text, want);
    snprintf(text, sizeof text, "[detector]\nbatch_max = %d\n", LG_STORE_BATCH_MAX + 1);
    snprintf(want, sizeof want, "invalid batch_max '%d' in [detector] (%%s:2): must be 1..%d",
             LG_STORE_BATCH_MAX + 1, LG_STORE_BATCH_MAX);
    expect_error(text, want);
}

static void test_unknown_key_is_error_with_line(void **state)
{
    (void)state;
    expect_error("[http]\nport = 80\nprot = 81\n", "unknown key 'prot' in [http] (%s:3)");
    expect_error("[rule user]\nthreshhold = 3\n", "unknown key 'threshhold' for rule 'user' (%s:2)");
}

static void test_unknown_section_is_error_even_when_empty(void **state)
{
    (void)state;
    expect_error("[http]\nport = 80\n[htpp]\n",
                 "unknown section [htpp] (%s:3): expected [rule user|ip|user_ip], [bus], "
                 "[store], [http], [auth], [detector], [time], [log]");
    expect_error("[rule credential]\nenabled = true\n",
                 "unknown rule 'credential' (%s:1): expected [rule user|ip|user_ip], [bus], "
                 "[store], [http], [auth], [detector], [time], [log]");
}

static void test_duplicate_key_is_error(void **state)
{
    (void)state;
    expect_error("[rule user]\nthreshold = 3\n[rule ip]\nthreshold = 9\n[rule user]\n"
                 "threshold = 4\n",
                 "duplicate key 'threshold' in [rule user] (%s:6): first set on line 2");
}

static void test_key_outside_section_is_error(void **state)
{
    (void)state;
    expect_error("port = 80\n", "key 'port' outside any section (%s:1)");
}

static void test_syntax_error_names_line(void **state)
{
    (void)state;
    expect_error("[http]\nport = 80\njust words\n",
                 "syntax error (%s:3): expected [section], name = value or a comment (# or ;)");
    expect_error("[http]\nport = 80\n  port2 = 3\n", "unknown key 'port2' in [http] (%s:3)");
}

static void test_line_of_199_bytes_loads_and_200_fails(void **state)
{
    lg_config cfg;
    char err[512];
    char text[512];
    const char *prefix = "[store]\nurl = ";
    size_t head = strlen("url = ");

    (void)state;
    /* 199 bytes of line content (the newline not counted) */
    snprintf(text, sizeof text, "%s%0*d\n", prefix, (int)(199 - head), 0);
    assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
    assert_int_equal(strlen(cfg.store_url), 199 - head);
    /* the same without a final newline */
    snprintf(text, sizeof text, "%s%0*d", prefix, (int)(199 - head), 0);
    assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
    assert_int_equal(strlen(cfg.store_url), 199 - head);
    snprintf(text, sizeof text, "%s%0*d\n[http]\nport = 1\n", prefix, (int)(200 - head), 0);
    expect_error(text, "line longer than 199 bytes (%s:2)");
}

static void test_bool_values(void **state)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1"};
    static const char *const no[] = {"false", "False", "no", "off", "0"};
    lg_config cfg;
    char err[512];
    char text[128];

    (void)state;
    for (size_t i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "[rule ip]\nenabled = %s\n", yes[i]);
        assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
        assert_true(lg_config_rule(&cfg, "ip")->enabled);
        snprintf(text, sizeof text, "[rule user]\nenabled = %s\n", no[i]);
        assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
        assert_false(lg_config_rule(&cfg, "user")->enabled);
    }
    expect_error("[rule ip]\nenabled = maybe\n",
                 "invalid enabled 'maybe' for rule 'ip' (%s:2): must be true or false");
    expect_error("[rule ip]\nenabled =\n",
                 "invalid enabled '' for rule 'ip' (%s:2): must be true or false");
}

static void test_string_values_are_checked(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    expect_error("[store]\nurl =\n", "invalid url '' in [store] (%s:2): must not be empty");
    expect_error("[bus]\nurl = rabbitmq://x\n",
                 "invalid url 'rabbitmq://x' in [bus] (%s:2): expected 'embedded' or "
                 "'kafka://host:port[,host:port...]'");
    expect_error("[http]\nlisten = localhost\n",
                 "invalid listen 'localhost' in [http] (%s:2): expected an IPv4 or IPv6 address");
    expect_error("[http]\ntrusted_proxies = 10.0.0.0/8, 192.0.2.0/33\n",
                 "invalid trusted_proxies '10.0.0.0/8, 192.0.2.0/33' in [http] (%s:2): entry "
                 "'192.0.2.0/33': prefix length above 32");
    expect_error("[http]\nport = 1\nadmin_networks = 127.0.0.1/8\n",
                 "invalid admin_networks '127.0.0.1/8' in [http] (%s:3): entry '127.0.0.1/8': "
                 "host bits are set (the network is 127.0.0.0/8)");
    assert_int_equal(load_text(&cfg, "[http]\ntrusted_proxies = 127.0.0.1, ::1/128\n"
                                     "admin_networks =\n",
                               err, sizeof err),
                     0);
    assert_string_equal(cfg.http_trusted_proxies, "127.0.0.1, ::1/128");
    assert_string_equal(cfg.http_admin_networks, "");
    expect_error("[store]\nurl = a\tb\n",
                 "invalid url 'a?b' in [store] (%s:2): contains a control character");
    expect_error("[log]\nlevel = loud\n",
                 "invalid level 'loud' in [log] (%s:2): must be one of error, warn, info, debug");
    /* quotes keep spaces; the value is otherwise verbatim, ';' included */
    assert_int_equal(load_text(&cfg, "[store]\nurl = \" my.db \"\n[detector]\ngroup = a ;b\n",
                               err, sizeof err),
                     0);
    assert_string_equal(cfg.store_url, " my.db ");
    assert_string_equal(cfg.detector_group, "a ;b");
}

static void test_jwt_secret_length_and_never_echoed(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    /* 31 bytes: too short, and the message does not show it */
    expect_error("[auth]\njwt_secret = 0123456789012345678901234567890\n",
                 "invalid jwt_secret '<redacted>' in [auth] (%s:2): shorter than 32 bytes "
                 "(or empty)");
    assert_int_equal(load_text(&cfg, "[auth]\njwt_secret = 01234567890123456789012345678901\n",
                               err, sizeof err),
                     0);
    assert_int_equal(strlen(cfg.jwt_secret), LG_JWT_SECRET_MIN);
    assert_int_equal(load_text(&cfg, "[auth]\njwt_secret =\n", err, sizeof err), 0);
    assert_string_equal(cfg.jwt_secret, "");
}

/* Prints cfg into a malloc'ed string. */
static char *print_to_string(const lg_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    lg_config_print(cfg, f);
    fclose(f);
    return buf;
}

static void test_printed_config_loads_back_identical(void **state)
{
    lg_config cfg, back;
    char err[512];
    char *first, *second;
    const char *path;

    (void)state;
    lg_config_default(&cfg);
    assert_int_equal(lg_config_set(&cfg, "rule.user.threshold", "7", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "rule.ip.enabled", "on", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "rule.user_ip.block_for_ms", "0", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "bus.replication", "3", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "store.url", " spaced.db", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "detector.group", "\"quoted\"", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "log.level", "warn", err, sizeof err), 0);
    first = print_to_string(&cfg);
    path = write_conf(first);
    lg_config_default(&back);
    assert_int_equal(lg_config_load_file(&back, path, err, sizeof err), 0);
    unlink(path);
    second = print_to_string(&back);
    assert_string_equal(first, second);
    assert_int_equal(lg_config_rule(&back, "user")->threshold, 7);
    assert_true(lg_config_rule(&back, "ip")->enabled);
    assert_int_equal(lg_config_rule(&back, "user_ip")->block_for_ms, 0);
    assert_string_equal(back.store_url, " spaced.db");
    assert_string_equal(back.detector_group, "quoted");
    assert_int_equal(back.log_level, LG_WARN);
    free(first);
    free(second);
}

static void test_print_redacts_secret_and_reload_refuses_placeholder(void **state)
{
    lg_config cfg, back;
    char err[512];
    char *text;
    const char *path;

    (void)state;
    lg_config_default(&cfg);
    assert_int_equal(lg_config_set(&cfg, "auth.jwt_secret", "s3cret-s3cret-s3cret-s3cret-s3cret",
                                   err, sizeof err),
                     0);
    text = print_to_string(&cfg);
    assert_null(strstr(text, "s3cret"));
    assert_non_null(strstr(text, "\njwt_secret = <redacted>\n"));
    path = write_conf(text);
    lg_config_default(&back);
    assert_int_not_equal(lg_config_load_file(&back, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "invalid jwt_secret '<redacted>' in [auth]"));
    unlink(path);
    free(text);
}

static void test_failed_load_leaves_config_unchanged(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    assert_int_not_equal(load_text(&cfg, "[rule user]\nthreshold = 3\nwindow_ms = 0\n", err,
                                   sizeof err),
                         0);
    assert_int_equal(lg_config_rule(&cfg, "user")->threshold, 5);
}

static void test_missing_file_is_error(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    lg_config_default(&cfg);
    assert_int_equal(lg_config_load_file(&cfg, "/nonexistent/lg.conf", err, sizeof err),
                     LG_EIO);
    assert_string_equal(err, "cannot open config '/nonexistent/lg.conf': No such file or "
                             "directory");
    assert_int_equal(lg_config_load_file(&cfg, NULL, err, sizeof err), 0);
}

static void test_set_dotted_keys(void **state)
{
    lg_config cfg;
    char err[512];

    (void)state;
    lg_config_default(&cfg);
    assert_int_equal(lg_config_set(&cfg, "rule.user.threshold", "3", err, sizeof err), 0);
    assert_int_equal(lg_config_rule(&cfg, "user")->threshold, 3);
    assert_int_equal(lg_config_set(&cfg, "rule.user_ip.window_ms", "2m", err, sizeof err), 0);
    assert_int_equal(lg_config_rule(&cfg, "user_ip")->window_ms, 120000);
    assert_int_equal(lg_config_set(&cfg, "http.port", "1", err, sizeof err), 0);
    assert_int_equal(cfg.http_port, 1);
    assert_int_equal(lg_config_set(&cfg, "http.port", "65535", err, sizeof err), 0);
    assert_int_equal(lg_config_set(&cfg, "http.port", "65536", err, sizeof err), LG_EINVAL);
    assert_string_equal(err, "invalid port '65536' in [http] (command line): must be 1..65535");
    assert_int_equal(cfg.http_port, 65535);
    assert_int_equal(lg_config_set(&cfg, "rule.user.window_ms", "0", err, sizeof err),
                     LG_EINVAL);
    assert_string_equal(err, "invalid window_ms '0' for rule 'user' (command line): must be "
                             "1..86400000");
    assert_int_equal(lg_config_set(&cfg, "rule.nope.threshold", "3", err, sizeof err),
                     LG_EINVAL);
    assert_int_equal(lg_config_set(&cfg, "rule.user", "3", err, sizeof err), LG_EINVAL);
    assert_int_equal(lg_config_set(&cfg, "port", "3", err, sizeof err), LG_EINVAL);
    assert_int_equal(lg_config_set(&cfg, "http.nope", "3", err, sizeof err), LG_EINVAL);
    assert_string_equal(err, "unknown key 'nope' in [http] (command line)");
}

static void test_environment_overrides_file_and_names_variable(void **state)
{
    lg_config cfg;
    char err[512];
    const char *path;

    (void)state;
    path = write_conf("[store]\nurl = file.db\n[bus]\nurl = embedded\n");
    setenv("LG_STORE_URL", "env.db", 1);
    setenv("LG_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    assert_int_equal(lg_config_load(&cfg, path, err, sizeof err), 0);
    assert_string_equal(cfg.store_url, "env.db");
    assert_string_equal(cfg.bus_url, "embedded");
    assert_string_equal(cfg.jwt_secret, "0123456789abcdef0123456789abcdef");

    setenv("LG_BUS_URL", "nats://x", 1);
    assert_int_equal(lg_config_load(&cfg, path, err, sizeof err), LG_EINVAL);
    assert_string_equal(err, "invalid url 'nats://x' in [bus] (environment LG_BUS_URL): "
                             "expected 'embedded' or 'kafka://host:port[,host:port...]'");
    assert_string_equal(cfg.store_url, "loginguard.db"); /* defaults on failure */

    /* the lenient variant keeps the good variables and skips the bad one */
    lg_config_default(&cfg);
    lg_config_load_env(&cfg);
    assert_string_equal(cfg.store_url, "env.db");
    assert_string_equal(cfg.bus_url, "embedded");
    unsetenv("LG_BUS_URL");
    unsetenv("LG_STORE_URL");
    unsetenv("LG_JWT_SECRET");
    unlink(path);
}

static void test_markdown_documents_every_key(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    lg_config_print_markdown(f);
    fclose(f);
    assert_non_null(strstr(buf, "## [rule NAME]"));
    assert_non_null(strstr(buf, "| `threshold` | uint | user: `5`, ip: `20`, user_ip: `5` | "
                                "1..64 |"));
    assert_non_null(strstr(buf, "| `window_ms` | ms |"));
    assert_non_null(strstr(buf, "## [auth]"));
    assert_non_null(strstr(buf, "| `LG_JWT_SECRET` | `auth.jwt_secret` |"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_design),
        cmocka_unit_test(test_file_sets_rule_and_section_keys),
        cmocka_unit_test(test_ms_values_accept_units),
        cmocka_unit_test(test_window_ms_zero_names_key_rule_file_line_and_range),
        cmocka_unit_test(test_window_ms_at_cap_loads_and_one_more_fails),
        cmocka_unit_test(test_threshold_at_cap_loads_and_above_cap_fails),
        cmocka_unit_test(test_keys_max_may_lower_but_not_exceed_hard_cap),
        cmocka_unit_test(test_unknown_key_is_error_with_line),
        cmocka_unit_test(test_unknown_section_is_error_even_when_empty),
        cmocka_unit_test(test_duplicate_key_is_error),
        cmocka_unit_test(test_key_outside_section_is_error),
        cmocka_unit_test(test_syntax_error_names_line),
        cmocka_unit_test(test_line_of_199_bytes_loads_and_200_fails),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_string_values_are_checked),
        cmocka_unit_test(test_jwt_secret_length_and_never_echoed),
        cmocka_unit_test(test_printed_config_loads_back_identical),
        cmocka_unit_test(test_print_redacts_secret_and_reload_refuses_placeholder),
        cmocka_unit_test(test_failed_load_leaves_config_unchanged),
        cmocka_unit_test(test_missing_file_is_error),
        cmocka_unit_test(test_set_dotted_keys),
        cmocka_unit_test(test_environment_overrides_file_and_names_variable),
        cmocka_unit_test(test_markdown_documents_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
