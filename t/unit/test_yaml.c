/* replicas.yaml into JSON (control/rc_yaml.c). */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "rc_yaml.h"


static int
same(const char *yaml, const char *json)
{
    int      eq;
    char     err[256];
    json_t  *got, *want;

    got = rc_yaml_to_json(yaml, strlen(yaml), err, sizeof(err));
    want = json_loads(json, JSON_DECODE_ANY, NULL);
    eq = got && want && json_equal(got, want);

    json_decref(got);
    json_decref(want);

    return eq;
}


static int
refused(const char *yaml, const char *reason)
{
    char     err[256];
    json_t  *got;

    err[0] = '\0';
    got = rc_yaml_to_json(yaml, strlen(yaml), err, sizeof(err));

    if (got) {
        json_decref(got);
        return 0;
    }

    return strstr(err, reason) != NULL;
}


int
main(void)
{
    char  deep[200];
    int   i;

    ok(same("startHook:\n  commands:\n    - npm run dev &\n    - echo hi\n"
            "  timeout: 60000\n  separate: false\n",
            "{\"startHook\":{\"commands\":[\"npm run dev &\",\"echo hi\"],"
            "\"timeout\":60000,\"separate\":false}}"),
       "a hook in block style");
    ok(same("warmHook: {commands: [make], timeout: 5}",
            "{\"warmHook\":{\"commands\":[\"make\"],\"timeout\":5}}"),
       "flow style");
    ok(same("a: ~\nb: null\nc:\nd: true\ne: False\nf: -3\ng: '12'\nh: \"true\"\n"
            "i: 1.5\nj: 0x10\n",
            "{\"a\":null,\"b\":null,\"c\":null,\"d\":true,\"e\":false,\"f\":-3,"
            "\"g\":\"12\",\"h\":\"true\",\"i\":\"1.5\",\"j\":\"0x10\"}"),
       "core schema scalars; quoted ones stay strings");
    ok(same("systemPrompt: |\n  line one\n  line two\n",
            "{\"systemPrompt\":\"line one\\nline two\\n\"}"),
       "a literal block");
    ok(same("--- \nx: 1\n---\nx: 2\n", "{\"x\":1}"), "the first document only");

    ok(refused("a: 1\na: 2\n", "repeated"), "duplicate keys refused");
    ok(refused("a: &x [1]\nb: *x\n", "anchors"), "anchors and aliases refused");
    ok(refused("? [1, 2]\n: x\n", "keys must be plain"), "a key that is not a scalar");
    ok(refused("", "empty"), "an empty file");
    ok(refused("a: [1, 2\n", "line"), "a syntax error names its line");

    for (i = 0; i < 40; i++) {
        deep[i] = '[';
    }
    deep[i] = '\0';
    ok(refused(deep, "deeply"), "nesting past 32 refused");

    return done_testing();
}
