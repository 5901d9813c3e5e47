<?php
/**
 * Lists the syntax in FILE that PHP 7.2 cannot parse (one line each: "LINE: what"), for
 * tests/companions/test_whmcs_hooks.py: the WHMCS hook file returns at once under PHP 7 (older WHMCS 8
 * versions run on it), but PHP compiles the whole file first, and a parse error in includes/hooks/ stops
 * every WHMCS page. Read with PHP's own tokenizer; what it looks for came after 7.2: arrow functions,
 * ??= and typed properties (7.4), match, ?->, attributes, throw as an expression, trailing commas in
 * parameter lists (8.0), enums, readonly, never, new in initialisers, first-class callables (8.1),
 * and a trailing comma in a call's arguments (7.3).
 *
 * Usage: php php72_syntax.php FILE
 */

$named = [
    'T_FN' => 'an arrow function (fn)', 'T_COALESCE_EQUAL' => '??=', 'T_MATCH' => 'match',
    'T_NULLSAFE_OBJECT_OPERATOR' => '?->', 'T_ATTRIBUTE' => 'an attribute #[...]', 'T_ENUM' => 'enum',
    'T_READONLY' => 'readonly',
];
$tokens = token_get_all((string) file_get_contents($argv[1]));
$significant = array_values(array_filter($tokens, static function ($t) {
    return !is_array($t) || !in_array($t[0], [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT], true);
}));
$line = 1;
$found = [];
foreach ($significant as $i => $token) {
    if (is_array($token)) {
        $line = $token[2];
        $name = token_name($token[0]);
        if (isset($named[$name])) {
            $found[] = "$line: " . $named[$name];
        }
        if (in_array($token[0], [T_PUBLIC, T_PROTECTED, T_PRIVATE, T_VAR], true)) {
            $next = $significant[$i + 1] ?? null;
            if (is_array($next) && $next[0] === T_STATIC) {
                $next = $significant[$i + 2] ?? null;
            }
            if (!is_array($next) || !in_array($next[0], [T_VARIABLE, T_FUNCTION, T_CONST], true)) {
                $found[] = "$line: a typed property";
            }
        }
        if ($token[0] === T_THROW) {
            $before = $significant[$i - 1] ?? null;
            if (!in_array($before, [';', '{', '}', ':'], true) && !(is_array($before) && $before[0] === T_OPEN_TAG)) {
                $found[] = "$line: throw as an expression";
            }
        }
        if ($token[0] === T_STRING && in_array(strtolower($token[1]), ['never'], true)) {
            $found[] = "$line: the never type";
        }
        if ($token[0] === T_ELLIPSIS && ($significant[$i + 1] ?? null) === ')') {
            $found[] = "$line: a first-class callable (...)";
        }
    } elseif ($token === ',' && ($significant[$i + 1] ?? null) === ')') {
        $found[] = "$line: a trailing comma before )";
    }
}
echo implode("\n", $found), $found === [] ? '' : "\n";
