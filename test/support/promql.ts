// A PromQL parser for tests: enough of the language (Prometheus 3's
// grammar, without the @ modifier's functions or native-histogram
// literals) to read the queries of a dashboard, refuse what is not PromQL,
// and say which metrics each selects and with which labels. Grafana's
// variables ($workspace, $__rate_interval, ${__range}) are accepted where
// Grafana substitutes them: in strings and in range durations.

/** One vector selector: `name{label=~"…"}` (or `{__name__="…"}`). */
export interface Selector {
  readonly metric: string;
  /** The label names its matchers use. */
  readonly labels: readonly string[];
}

export interface ParsedQuery {
  readonly selectors: readonly Selector[];
  /** Label names of by/without/on/ignoring/group_left/group_right clauses and label_* functions' arguments. */
  readonly groupingLabels: readonly string[];
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

const FUNCTIONS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'avg_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'cos',
  'cosh',
  'count_over_time',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'deg',
  'delta',
  'deriv',
  'double_exponential_smoothing',
  'exp',
  'floor',
  'histogram_avg',
  'histogram_count',
  'histogram_fraction',
  'histogram_quantile',
  'histogram_stddev',
  'histogram_stdvar',
  'histogram_sum',
  'hour',
  'idelta',
  'increase',
  'irate',
  'label_join',
  'label_replace',
  'last_over_time',
  'ln',
  'log10',
  'log2',
  'mad_over_time',
  'max_over_time',
  'min_over_time',
  'minute',
  'month',
  'pi',
  'predict_linear',
  'present_over_time',
  'quantile_over_time',
  'rad',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sin',
  'sinh',
  'sort',
  'sort_by_label',
  'sort_by_label_desc',
  'sort_desc',
  'sqrt',
  'stddev_over_time',
  'stdvar_over_time',
  'sum_over_time',
  'tan',
  'tanh',
  'time',
  'timestamp',
  'vector',
  'year',
]);

/** Binary operators, by precedence (lowest first); `^` is right-associative. */
const PRECEDENCE: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['or']),
  new Set(['and', 'unless']),
  new Set(['==', '!=', '>', '<', '>=', '<=']),
  new Set(['+', '-']),
  new Set(['*', '/', '%', 'atan2']),
  new Set(['^']),
];
const COMPARISONS = PRECEDENCE[2] as ReadonlySet<string>;

type TokenKind = 'ident' | 'number' | 'string' | 'duration' | 'punct' | 'op';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly at: number;
}

const IDENT = /[A-Za-z_:][A-Za-z0-9_:]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf|NaN)/y;
/** A duration, or a Grafana variable Grafana replaces with one. */
const DURATION = /(?:(?:\d+(?:ms|[smhdwy]))+|\$__[A-Za-z_]+|\$\{__[A-Za-z_]+\})/y;
const OPS = ['=~', '!~', '==', '!=', '>=', '<=', '+', '-', '*', '/', '%', '^', '>', '<', '='];

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  // Inside [...] a duration is read, not a number.
  let inRange = false;
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = i;
    return pattern.exec(query)?.[0];
  };
  while (i < query.length) {
    const c = query.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === '#') {
      while (i < query.length && query.charAt(i) !== '\n') i += 1;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < query.length && query.charAt(j) !== c) j += c === '`' ? 1 : query.charAt(j) === '\\' ? 2 : 1;
      if (j >= query.length) throw new Error(`unterminated string at ${i} in ${query}`);
      tokens.push({ kind: 'string', text: query.slice(i + 1, j), at: i });
      i = j + 1;
      continue;
    }
    if ('(){}[],:@'.includes(c)) {
      if (c === '[') inRange = true;
      if (c === ']') inRange = false;
      tokens.push({ kind: 'punct', text: c, at: i });
      i += 1;
      continue;
    }
    const duration = inRange || tokens.at(-1)?.text === 'offset' ? match(DURATION) : undefined;
    if (duration !== undefined) {
      tokens.push({ kind: 'duration', text: duration, at: i });
      i += duration.length;
      continue;
    }
    const number = /[0-9.]/.test(c) ? match(NUMBER) : undefined;
    if (number !== undefined) {
      tokens.push({ kind: 'number', text: number, at: i });
      i += number.length;
      continue;
    }
    const ident = match(IDENT);
    if (ident !== undefined) {
      tokens.push({ kind: /^(?:[Ii]nf|NaN)$/.test(ident) ? 'number' : 'ident', text: ident, at: i });
      i += ident.length;
      continue;
    }
    const op = OPS.find((candidate) => query.startsWith(candidate, i));
    if (op === undefined) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in ${query}`);
    tokens.push({ kind: 'op', text: op, at: i });
    i += op.length;
  }
  return tokens;
}

/** Parses one PromQL expression; throws on anything that is not one. */
export function parsePromQL(query: string): ParsedQuery {
  const tokens = tokenize(query);
  let position = 0;
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];

  const peek = (offset = 0): Token | undefined => tokens[position + offset];
  const fail = (what: string): never => {
    const token = peek();
    throw new Error(
      `expected ${what} at ${token === undefined ? 'the end' : `${JSON.stringify(token.text)} (${token.at})`} in ${query}`,
    );
  };
  const is = (text: string, offset = 0): boolean => {
    const token = peek(offset);
    return token !== undefined && token.kind !== 'string' && token.text === text;
  };
  const expect = (text: string): void => {
    if (!is(text)) fail(JSON.stringify(text));
    position += 1;
  };
  const take = (kind: TokenKind, what: string): string => {
    const token = peek();
    if (token?.kind !== kind) return fail(what);
    position += 1;
    return token.text;
  };

  const labelList = (): void => {
    expect('(');
    while (!is(')')) {
      groupingLabels.push(take('ident', 'a label name'));
      if (!is(')')) expect(',');
    }
    expect(')');
  };

  const matchers = (): string[] => {
    const labels: string[] = [];
    expect('{');
    while (!is('}')) {
      const label =
        peek()?.kind === 'string' ? take('string', 'a label name') : take('ident', 'a label name');
      const op = peek();
      if (op?.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.text)) fail('a label matcher');
      position += 1;
      take('string', 'a label value');
      labels.push(label);
      if (!is('}')) expect(',');
    }
    expect('}');
    return labels;
  };

  const selector = (metric: string): void => {
    const labels = is('{') ? matchers() : [];
    selectors.push({ metric, labels });
  };

  const postfix = (): void => {
    for (;;) {
      if (is('[')) {
        expect('[');
        take('duration', 'a range');
        if (is(':')) {
          expect(':');
          if (peek()?.kind === 'duration') position += 1;
        }
        expect(']');
      } else if (is('offset')) {
        position += 1;
        if (is('-')) position += 1;
        take('duration', 'an offset');
      } else return;
    }
  };

  const args = (): void => {
    expect('(');
    while (!is(')')) {
      expression(0);
      if (!is(')')) expect(',');
    }
    expect(')');
  };

  const primary = (): void => {
    const token = peek() ?? fail('an expression');
    if (token.kind === 'number' || token.kind === 'string') {
      position += 1;
      return;
    }
    if (is('-') || is('+')) {
      position += 1;
      primary();
      return;
    }
    if (is('(')) {
      expect('(');
      expression(0);
      expect(')');
      postfix();
      return;
    }
    // {__name__="…"} alone names its metric in a string: a dashboard checked here names it plainly.
    if (is('{')) fail('a metric name before {');
    const name = take('ident', 'an expression');
    if (AGGREGATIONS.has(name)) {
      if (is('by') || is('without')) {
        position += 1;
        labelList();
      }
      args();
      if (is('by') || is('without')) {
        position += 1;
        labelList();
      }
      return;
    }
    if (is('(')) {
      if (!FUNCTIONS.has(name)) fail(`a known function, not ${name}`);
      const start = position;
      args();
      // label_replace(v, "dst", "repl", "src", "regex") and label_join name labels in strings.
      if (name === 'label_replace' || name === 'label_join') {
        const strings = tokens.slice(start, position).filter((t) => t.kind === 'string');
        groupingLabels.push(...strings.map((t) => t.text).filter((t) => /^[A-Za-z_]\w*$/.test(t)));
      }
      postfix();
      return;
    }
    if (['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset'].includes(name))
      fail(`an expression, not the keyword ${name}`);
    selector(name);
    postfix();
  };

  const expression = (level: number): void => {
    if (level >= PRECEDENCE.length) {
      primary();
      return;
    }
    const ops = PRECEDENCE[level] as ReadonlySet<string>;
    expression(level + 1);
    for (;;) {
      const token = peek();
      if (token === undefined || token.kind === 'string' || !ops.has(token.text)) return;
      position += 1;
      if (COMPARISONS.has(token.text) && is('bool')) position += 1;
      if (is('on') || is('ignoring')) {
        position += 1;
        labelList();
        if (is('group_left') || is('group_right')) {
          position += 1;
          if (is('(')) labelList();
        }
      }
      // ^ binds to the right: its right side is parsed at its own level.
      expression(token.text === '^' ? level : level + 1);
    }
  };

  expression(0);
  if (position !== tokens.length) fail('the end of the query');
  return { selectors, groupingLabels };
}
