import * as ts from 'typescript';

/**
 * One config key as `config.d.ts` declares it, ready for a table.
 *
 * @internal
 */
export interface ConfigKeyDoc {
  /** The full key, such as `backend.rateLimit.window`; a map's key reads `<pluginId>`. */
  key: string;
  /** The type in words: `boolean`, `duration`, `` `true` or object ``. */
  type: string;
  /** The value of the doc's "Defaults to …" sentence, `required` for "No default: required", otherwise `–`. */
  defaultValue: string;
  /** The TSDoc text on one line, with the deprecation note when there is one. */
  description: string;
  /** Whether the key is also read in each block of the map flagged by `perPluginKey`. */
  perPlugin: boolean;
  /** Whether the key carries `@deprecated`. */
  deprecated: boolean;
}

interface Walk {
  interfaces: ReadonlyMap<string, ts.InterfaceDeclaration>;
  rows: (ConfigKeyDoc & { declaredIn?: string })[];
  /** The interface that the blocks of a map (such as `plugin.<pluginId>`) are made of. */
  mapBlock?: string;
}

/** The duration type of `@backstage/types`, which a config value gives as a string or an object. */
const DURATION_TYPE = 'HumanDuration';

function readDoc(node: ts.Node): { text: string; deprecated: boolean } | undefined {
  const doc = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc).pop();
  if (!doc) {
    return undefined;
  }
  const oneLine = (text: string | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();
  const deprecation = doc.tags?.find(tag => tag.tagName.text === 'deprecated');
  const note = deprecation
    ? ` Deprecated: ${oneLine(ts.getTextOfJSDocComment(deprecation.comment))}`
    : '';
  return {
    text: `${oneLine(ts.getTextOfJSDocComment(doc.comment))}${note}`.trim(),
    deprecated: deprecation !== undefined,
  };
}

function joinWords(all: string[]): string {
  const parts = [...new Set(all)];
  return parts.length <= 2
    ? parts.join(' or ')
    : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

function describeType(node: ts.TypeNode): string {
  if (ts.isUnionTypeNode(node)) {
    const parts = node.types.map(describeType);
    // `string | HumanDuration` is one thing to a reader: a duration, written as '1m' or { minutes: 1 }.
    return joinWords(parts.includes('duration') ? parts.filter(part => part !== 'string') : parts);
  }
  if (ts.isLiteralTypeNode(node)) {
    return `\`${node.getText()}\``;
  }
  if (ts.isArrayTypeNode(node)) {
    return `list of ${describeType(node.elementType)}s`;
  }
  if (ts.isTypeReferenceNode(node)) {
    return node.typeName.getText() === DURATION_TYPE ? 'duration' : 'object';
  }
  return ts.isTypeLiteralNode(node) ? 'object' : node.getText();
}

/**
 * Reads the value out of "Defaults to X." up to the first comma, colon or semicolon outside backticks;
 * "No default: required." reads `required`, and "Leaving it out turns … off." reads `off`.
 *
 * @internal
 */
export function readDefaultValue(text: string): string {
  if (/(^|\. )No default: required\b/.test(text)) {
    return 'required';
  }
  if (/(^|\. )Leaving it out turns [^.]* off\./.test(text)) {
    return 'off';
  }
  const start = /(?:^|\. )Defaults to /.exec(text);
  if (!start) {
    return '–';
  }
  let inCode = false;
  let value = '';
  for (const [index, char] of [...text.slice(start.index + start[0].length)].entries()) {
    inCode = char === '`' ? !inCode : inCode;
    const rest = text.slice(start.index + start[0].length + index + 1);
    if (!inCode && (/[,:;]/.test(char) || (char === '.' && /^(\s|$)/.test(rest)))) {
      break;
    }
    value += char;
  }
  return value.trim();
}

/** The object types a property's type is made of: its type literals and the interfaces it names. */
function objectParts(
  walk: Walk,
  node: ts.TypeNode,
): (ts.TypeLiteralNode | ts.InterfaceDeclaration)[] {
  const element = ts.isArrayTypeNode(node) ? node.elementType : node;
  const parts = ts.isUnionTypeNode(element) ? [...element.types] : [element];
  return parts.flatMap((part): (ts.TypeLiteralNode | ts.InterfaceDeclaration)[] => {
    if (ts.isTypeLiteralNode(part)) {
      return [part];
    }
    const named = ts.isTypeReferenceNode(part) && walk.interfaces.get(part.typeName.getText());
    return named ? [named] : [];
  });
}

function visitMembers(
  walk: Walk,
  members: readonly ts.TypeElement[],
  prefix: string,
  declaredIn?: string,
) {
  for (const member of members) {
    if (ts.isIndexSignatureDeclaration(member)) {
      // A map of blocks: one row for the map (the property's own), none repeated for each block's keys.
      const block = ts.isTypeReferenceNode(member.type)
        ? walk.interfaces.get(member.type.typeName.getText())
        : undefined;
      // A block that extends the shared one: the shared keys are marked per plugin, its own get rows of their own.
      const base = block?.heritageClauses?.[0]?.types[0]?.expression.getText();
      walk.mapBlock = base ?? block?.name.text;
      if (base) {
        visitMembers(walk, block!.members, `${prefix}<${member.parameters[0].name.getText()}>.`);
      }
      continue;
    }
    if (!ts.isPropertySignature(member) || !member.type) {
      continue;
    }
    const literal = member.type;
    const mapParam =
      ts.isTypeLiteralNode(literal) && literal.members.find(ts.isIndexSignatureDeclaration);
    const name = member.name.getText();
    const key = `${prefix}${name}${mapParam ? `.<${mapParam.parameters[0].name.getText()}>` : ''}`;
    const doc = readDoc(member);
    if (doc) {
      walk.rows.push({
        key,
        type: describeType(member.type),
        defaultValue: readDefaultValue(doc.text),
        description: doc.text,
        perPlugin: false,
        deprecated: doc.deprecated,
        declaredIn,
      });
    }
    for (const part of objectParts(walk, member.type)) {
      visitObject(
        walk,
        part,
        `${prefix}${name}${ts.isArrayTypeNode(member.type) ? '[]' : ''}.`,
        declaredIn,
      );
    }
  }
}

function visitObject(
  walk: Walk,
  node: ts.TypeLiteralNode | ts.InterfaceDeclaration,
  prefix: string,
  declaredIn?: string,
) {
  if (ts.isInterfaceDeclaration(node)) {
    for (const heritage of node.heritageClauses?.flatMap(clause => [...clause.types]) ?? []) {
      const base = walk.interfaces.get(heritage.expression.getText());
      if (base) {
        visitObject(walk, base, prefix);
      }
    }
    visitMembers(walk, node.members, prefix, node.name.text);
    return;
  }
  visitMembers(walk, node.members, prefix, declaredIn);
}

/** Rows of one key from several members of a union (`store.type`) become one row that lists each. */
function mergeRows(rows: ConfigKeyDoc[]): ConfigKeyDoc[] {
  const byKey = new Map<string, ConfigKeyDoc[]>();
  rows.forEach(row => byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]));
  return [...byKey.values()].map(([first, ...others]) =>
    others.length === 0
      ? first
      : {
          ...first,
          type: joinWords([first, ...others].map(row => row.type)),
          description: [first, ...others].map(row => `${row.type}: ${row.description}`).join(' '),
        },
  );
}

/**
 * Reads every documented key of the `Config` interface of a `config.d.ts`, in declaration order (the keys of an
 * interface's base before its own).
 *
 * @param source - The text of `config.d.ts`.
 * @internal
 */
export function readConfigKeys(source: string): ConfigKeyDoc[] {
  const file = ts.createSourceFile('config.d.ts', source, ts.ScriptTarget.ES2022, true);
  const declarations = file.statements.filter(ts.isInterfaceDeclaration);
  const walk: Walk = {
    interfaces: new Map(declarations.map(declaration => [declaration.name.text, declaration])),
    rows: [],
  };
  const root = walk.interfaces.get('Config');
  if (!root) {
    throw new Error('config.d.ts declares no Config interface');
  }
  visitObject(walk, root, '');
  const rows = walk.rows.map(({ declaredIn, ...row }) => ({
    ...row,
    perPlugin: declaredIn !== undefined && declaredIn === walk.mapBlock,
  }));
  return mergeRows(rows);
}
