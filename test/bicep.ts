import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Parser from 'tree-sitter';
import Bicep from 'tree-sitter-bicep';

/*
 * Reads Bicep with tree-sitter-bicep (the Bicep CLI cannot be installed here): syntax
 * problems, and the declarations with their literal values, so the infra test can
 * hold the deployment against the code.
 */
type SyntaxNode = Parser.SyntaxNode;

/** A Bicep expression that is not a literal (a reference, a call, an interpolated string), kept as its source text. */
export class Expression {
  constructor(readonly text: string) {}
}

export type BicepValue = string | number | boolean | null | Expression | BicepValue[] | { [key: string]: BicepValue };

export interface Resource {
  file: string;
  symbol: string;
  /** e.g. `Microsoft.Web/sites` */
  type: string;
  apiVersion: string;
  existing: boolean;
  conditional: boolean;
  loop: boolean;
  body: Record<string, BicepValue>;
}

export interface BicepFile {
  file: string;
  problems: string[];
  params: Map<string, { type: string; default?: BicepValue; decorators: string[] }>;
  vars: Map<string, BicepValue>;
  resources: Resource[];
  modules: Map<string, { path: string; body: Record<string, BicepValue>; conditional: boolean }>;
  outputs: Map<string, BicepValue>;
}

const parser = new Parser();
parser.setLanguage(Bicep as unknown as Parser.Language);

/** ERROR and MISSING nodes, each with its line and column. */
export function syntaxProblems(source: string): string[] {
  const problems: string[] = [];
  const walk = (node: SyntaxNode) => {
    if (node.type === 'ERROR' || node.isMissing) {
      const where = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
      problems.push(`${where} ${node.isMissing ? `missing ${node.type}` : `unexpected ${JSON.stringify(node.text.slice(0, 40))}`}`);
    }
    for (const child of node.children) walk(child);
  };
  walk(parser.parse(source).rootNode);
  return problems;
}

const named = (node: SyntaxNode) => node.namedChildren.filter((child) => child.type !== 'comment');

const ESCAPES: Record<string, string> = { "\\'": "'", '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

function stringValue(node: SyntaxNode): string | Expression {
  if (node.namedChildren.some((child) => child.type === 'interpolation')) return new Expression(node.text);
  return node.namedChildren.map((child) => (child.type === 'escape_sequence' ? (ESCAPES[child.text] ?? child.text) : child.text)).join('');
}

export function valueOf(node: SyntaxNode): BicepValue {
  switch (node.type) {
    case 'string':
      return stringValue(node);
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'object':
      return Object.fromEntries(
        named(node)
          .filter((child) => child.type === 'object_property')
          .map((property) => {
            const [key, value] = named(property);
            const name = key!.type === 'string' ? stringValue(key!) : key!.text;
            return [name instanceof Expression ? name.text : name, valueOf(value!)];
          }),
      );
    case 'array':
      return named(node).map((item) => valueOf(item.type === 'array_item' ? named(item)[0]! : item));
    default:
      return new Expression(node.text);
  }
}

/** The object a resource or module declares, through `if (...)` and `[for ...: ...]`. */
function declaredBody(node: SyntaxNode): { body: Record<string, BicepValue>; conditional: boolean; loop: boolean } {
  let conditional = false;
  let loop = false;
  let current: SyntaxNode | undefined = named(node).at(-1);
  while (current && current.type !== 'object') {
    if (current.type === 'if_statement') conditional = true;
    if (current.type === 'for_statement') loop = true;
    current = current.type === 'array' ? named(current)[0] : named(current).at(-1);
  }
  return { body: (current ? valueOf(current) : {}) as Record<string, BicepValue>, conditional, loop };
}

export function readBicep(file: string, root: string): BicepFile {
  const source = readFileSync(file, 'utf8');
  const result: BicepFile = {
    file: relative(root, file),
    problems: syntaxProblems(source),
    params: new Map(),
    vars: new Map(),
    resources: [],
    modules: new Map(),
    outputs: new Map(),
  };
  let decorators: string[] = [];
  for (const node of named(parser.parse(source).rootNode)) {
    const [first, second] = named(node);
    switch (node.type) {
      case 'decorators':
        decorators = named(node).map((decorator) => decorator.text);
        continue;
      case 'parameter_declaration': {
        const defaultNode = named(node)[2];
        result.params.set(first!.text, { type: second!.text, default: defaultNode ? valueOf(defaultNode) : undefined, decorators });
        break;
      }
      case 'variable_declaration':
        result.vars.set(first!.text, valueOf(named(node).at(-1)!));
        break;
      case 'output_declaration':
        result.outputs.set(first!.text, valueOf(named(node).at(-1)!));
        break;
      case 'module_declaration':
        const declared = declaredBody(node);
        result.modules.set(first!.text, { path: stringValue(second!) as string, body: declared.body, conditional: declared.conditional });
        break;
      case 'resource_declaration': {
        const [typeName, apiVersion = ''] = (stringValue(second!) as string).split('@');
        result.resources.push({
          file: result.file,
          symbol: first!.text,
          type: typeName!,
          apiVersion,
          existing: node.children.some((child) => child.type === 'existing'),
          ...declaredBody(node),
        });
        break;
      }
    }
    decorators = [];
  }
  return result;
}

/** Every .bicep file under a folder. */
export function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.bicep'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The value at a property path of a declared object, or undefined. */
export function at(value: BicepValue | undefined, ...path: string[]): BicepValue | undefined {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || current instanceof Expression || Array.isArray(current)) return undefined;
    current = current[key];
  }
  return current;
}
