<?php
/**
 * A stand-in for the part of WHMCS a hook file meets, for tests/companions/test_whmcs_hooks.py.
 *
 * Usage: php whmcs_harness.php SCENARIO.json
 * SCENARIO: {
 *   "define":   {"SYNCD_INTAKE_URL": "...", ...}   constants defined first, as configuration.php would
 *   "server":   {"SCRIPT_FILENAME": "...", ...}     $_SERVER entries of the request WHMCS is serving
 *   "activity": "/path/log.jsonl" | "throw" | null  where logActivity() writes a line per call; "throw":
 *                                                   it throws; null: no logActivity() function at all
 *   "registry": "/path/registry.json" | null        where the registered hook points are written
 *   "users":    [{GetUsers user entry}, ...] | "throw" | "error" | null
 *                                                   what localAPI('GetUsers', ...) finds: the users as
 *                                                   api-reference/getusers.md shows them (id, firstname,
 *                                                   lastname, email, clients: [{id, isOwner}]); "throw":
 *                                                   localAPI() throws; "error": it answers result=error
 *                                                   (as for a command an older WHMCS lacks); null: no
 *                                                   localAPI() function at all
 *   "calls":    "/path/calls.jsonl" | null          where each localAPI() call is recorded
 *   "include":  ["/path/syncd_hooks.php", ...]      the hook file(s), as WHMCS loads includes/hooks/
 *   "run":      [["ClientEdit", {...vars...}], ...] hook points to run, each with its variables;
 *                                                   ["exit", null] ends the script there, as WHMCS's
 *                                                   redirects do
 * }
 * WHMCS defines the constant WHMCS before loading hooks (the docs' hooks/sample-hook.md checks it),
 * registers them with add_hook($point, $priority, $function) (hooks/getting-started.md,
 * hooks/priority.md: lower priorities run first) and passes the variables as one array; a hook file
 * logs with logActivity($message, $clientId) (advanced/logging.md) and calls WHMCS's API with
 * localAPI($command, $postData) (the "Example Request (Local API)" of every api-reference page).
 * It prints nothing itself.
 */

$scenario = json_decode((string) file_get_contents($argv[1]), true, 64, JSON_THROW_ON_ERROR);

define('WHMCS', true);
foreach ($scenario['server'] ?? [] as $name => $value) {  // e.g. SCRIPT_FILENAME: the page WHMCS runs
    $_SERVER[$name] = $value;
}
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

if (($scenario['users'] ?? null) !== null) {
    define('HARNESS_USERS', $scenario['users']);
    define('HARNESS_CALLS', $scenario['calls'] ?? null);

    /** GetUsers as api-reference/getusers.md has it: `search` at the start of email, names or full name. */
    function localAPI($command, $postData = [], $adminUsername = null)
    {
        if (is_string(HARNESS_CALLS)) {
            file_put_contents(HARNESS_CALLS, json_encode([$command, $postData]) . "\n", FILE_APPEND);
        }
        if (HARNESS_USERS === 'throw') {
            throw new RuntimeException('the database is gone');
        }
        if (HARNESS_USERS === 'error' || $command !== 'GetUsers') {
            return ['result' => 'error', 'message' => 'Invalid API Command'];
        }
        $search = strtolower((string) ($postData['search'] ?? ''));
        $found = array_values(array_filter(HARNESS_USERS, static function ($user) use ($search) {
            foreach ([$user['email'], $user['firstname'], $user['lastname'], $user['firstname'] . ' ' . $user['lastname']]
                     as $text) {
                if (str_starts_with(strtolower($text), $search)) {
                    return true;
                }
            }
            return false;
        }));
        $start = (int) ($postData['limitstart'] ?? 0);
        $page = array_slice($found, $start, (int) ($postData['limitnum'] ?? 25));
        return ['result' => 'success', 'totalresults' => count($found), 'startnumber' => $start,
                'numreturned' => count($page), 'users' => $page];
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
