<?php
/**
 * A stand-in for the part of WHMCS a hook file meets, for tests/companions/test_whmcs_hooks.py.
 *
 * Usage: php whmcs_harness.php SCENARIO.json
 * SCENARIO: {
 *   "define":   {"SYNCD_INTAKE_URL": "...", ...}   constants defined first, as configuration.php would
 *   "activity": "/path/log.jsonl" | "throw" | null  where logActivity() writes a line per call; "throw":
 *                                                   it throws; null: no logActivity() function at all
 *   "registry": "/path/registry.json" | null        where the registered hook points are written
 *   "include":  ["/path/syncd_hooks.php", ...]      the hook file(s), as WHMCS loads includes/hooks/
 *   "run":      [["ClientEdit", {...vars...}], ...] hook points to run, each with its variables;
 *                                                   ["exit", null] ends the script there, as WHMCS's
 *                                                   redirects do
 * }
 * WHMCS defines the constant WHMCS before loading hooks (the docs' hooks/sample-hook.md checks it),
 * registers them with add_hook($point, $priority, $function) (hooks/getting-started.md,
 * hooks/priority.md: lower priorities run first) and passes the variables as one array; a hook file
 * logs with logActivity($message, $clientId) (advanced/logging.md). It prints nothing itself.
 */

$scenario = json_decode((string) file_get_contents($argv[1]), true, 64, JSON_THROW_ON_ERROR);

define('WHMCS', true);
foreach ($scenario['define'] ?? [] as $name => $value) {
    define($name, $value);
}

$GLOBALS['harness_hooks'] = [];

function add_hook($point, $priority, $function)
{
    $GLOBALS['harness_hooks'][$point][] = [$priority, $function];
}

if (is_string($scenario['activity'] ?? null)) {
    define('HARNESS_ACTIVITY', $scenario['activity']);

    function logActivity($message, $clientId = 0)
    {
        if (HARNESS_ACTIVITY === 'throw') {
            throw new RuntimeException('the activity log is down');
        }
        file_put_contents(HARNESS_ACTIVITY, json_encode([$message, $clientId]) . "\n", FILE_APPEND);
    }
}

foreach ($scenario['include'] as $file) {
    include $file;
}

if (is_string($scenario['registry'] ?? null)) {
    $registry = [];
    foreach ($GLOBALS['harness_hooks'] as $point => $entries) {
        $registry[$point] = array_map(static fn ($entry) => $entry[0], $entries);
    }
    file_put_contents($scenario['registry'], json_encode($registry));
}

foreach ($scenario['run'] as [$point, $vars]) {
    if ($point === 'exit') {
        exit(0);
    }
    $entries = $GLOBALS['harness_hooks'][$point] ?? [];
    usort($entries, static fn ($a, $b) => $a[0] <=> $b[0]);
    foreach ($entries as [$priority, $function]) {
        $function($vars);
    }
}
