// Fast Federation subgraphs for the gateway benchmark: accounts, products, inventory, reviews.
//
// They must never be the bottleneck, so each parses a distinct query once (graphql-js `parse`, cached by text)
// and walks the selection over plain objects: no validation, no resolver machinery. Every subgraph counts the
// requests it served (GET /stats, POST /stats/reset) so the runner can report upstream calls per request.
//
// Usage: node subgraphs.mjs BASE_PORT   (accounts=BASE, products=BASE+1, inventory=BASE+2, reviews=BASE+3)
import http from 'node:http';
import { parse } from 'graphql';
import { data } from './data.mjs';

const users = new Map(data.users.map((u) => [u.id, u]));
const products = new Map(data.products.map((p) => [p.upc, p]));
const reviews = new Map(data.reviews.map((r) => [r.id, r]));
// Reviews by product and by author, built once: a filter over every review per entity would make the subgraphs,
// not the gateway, the bottleneck of the merge-heavy shape (hundreds of products per request).
const group = (key) => {
  const out = new Map();
  for (const r of data.reviews) {
    if (!out.has(r[key])) out.set(r[key], []);
    out.get(r[key]).push(r);
  }
  return out;
};
const reviewsByProduct = group('upc');
const reviewsByAuthor = group('authorId');

const user = (u) => ({ __typename: 'User', ...u });
const product = (p) => ({ __typename: 'Product', ...p });
const review = (r) => ({
  __typename: 'Review',
  id: r.id,
  body: r.body,
  author: user(users.get(r.authorId)),
  product: { __typename: 'Product', upc: r.upc },
});

const subgraphs = {
  accounts: {
    root: {
      me: () => user(users.get('u1')),
      user: (a) => (users.has(a.id) ? user(users.get(a.id)) : null),
    },
    entity: { User: (rep) => (users.has(rep.id) ? user(users.get(rep.id)) : null) },
  },
  products: {
    root: { topProducts: (a) => data.products.slice(0, a.first ?? 5).map(product) },
    entity: { Product: (rep) => (products.has(rep.upc) ? product(products.get(rep.upc)) : null) },
  },
  inventory: {
    root: {},
    entity: {
      Product: (rep) => {
        const p = products.get(rep.upc);
        if (!p) return null;
        return {
          __typename: 'Product',
          upc: p.upc,
          inStock: p.inStock,
          // @requires(fields: "price weight"): computed from what the gateway sent, as a real subgraph would.
          shippingEstimate: rep.price > 1000 ? 0 : Math.floor(rep.weight / 2),
        };
      },
    },
  },
  reviews: {
    root: {},
    entity: {
      Product: (rep) => ({
        __typename: 'Product',
        upc: rep.upc,
        reviews: (reviewsByProduct.get(rep.upc) ?? []).map(review),
      }),
      User: (rep) => ({
        __typename: 'User',
        id: rep.id,
        reviews: (reviewsByAuthor.get(rep.id) ?? []).map(review),
      }),
      Review: (rep) => (reviews.has(rep.id) ? review(reviews.get(rep.id)) : null),
    },
  },
};

const documents = new Map();

function argValue(node, vars) {
  switch (node.kind) {
    case 'Variable': return vars[node.name.value];
    case 'IntValue': return parseInt(node.value, 10);
    case 'FloatValue': return parseFloat(node.value);
    case 'StringValue': case 'EnumValue': return node.value;
    case 'BooleanValue': return node.value;
    case 'NullValue': return null;
    case 'ListValue': return node.values.map((v) => argValue(v, vars));
    case 'ObjectValue': return Object.fromEntries(node.fields.map((f) => [f.name.value, argValue(f.value, vars)]));
    default: return undefined;
  }
}

function args(field, vars) {
  const out = {};
  for (const a of field.arguments ?? []) out[a.name.value] = argValue(a.value, vars);
  return out;
}

function select(value, selectionSet, ctx) {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => select(v, selectionSet, ctx));
  if (!selectionSet) return value;
  const out = {};
  collect(value, selectionSet, ctx, out);
  return out;
}

function collect(obj, selectionSet, ctx, out) {
  for (const sel of selectionSet.selections) {
    if (sel.kind === 'Field') {
      const name = sel.name.value;
      const key = sel.alias ? sel.alias.value : name;
      out[key] = name === '__typename' ? obj.__typename : select(obj[name], sel.selectionSet, ctx);
    } else if (sel.kind === 'InlineFragment') {
      if (!sel.typeCondition || sel.typeCondition.name.value === obj.__typename) collect(obj, sel.selectionSet, ctx, out);
    } else if (sel.kind === 'FragmentSpread') {
      const frag = ctx.fragments[sel.name.value];
      if (frag.typeCondition.name.value === obj.__typename) collect(obj, frag.selectionSet, ctx, out);
    }
  }
}

function execute(sg, body) {
  let doc = documents.get(body.query);
  if (!doc) {
    const ast = parse(body.query);
    const fragments = {};
    let operation = null;
    for (const def of ast.definitions) {
      if (def.kind === 'FragmentDefinition') fragments[def.name.value] = def;
      else if (def.kind === 'OperationDefinition' && (!body.operationName || def.name?.value === body.operationName)) operation = def;
    }
    doc = { operation, fragments };
    documents.set(body.query, doc);
  }
  const vars = body.variables ?? {};
  const ctx = { fragments: doc.fragments };
  const data = {};
  for (const sel of doc.operation.selectionSet.selections) {
    const name = sel.name.value;
    const key = sel.alias ? sel.alias.value : name;
    if (name === '__typename') { data[key] = 'Query'; continue; }
    if (name === '_entities') {
      const reps = args(sel, vars).representations;
      data[key] = reps.map((rep) => select(sg.entity[rep.__typename](rep), sel.selectionSet, ctx));
      continue;
    }
    data[key] = select(sg.root[name](args(sel, vars)), sel.selectionSet, ctx);
  }
  return { data };
}

function serve(name, port) {
  const sg = subgraphs[name];
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ served }));
      return;
    }
    if (req.url === '/stats/reset') { served = 0; res.writeHead(204); res.end(); return; }
    if (req.url === '/healthz') { res.writeHead(200); res.end('ok'); return; }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      served += 1;
      let payload;
      try {
        payload = JSON.stringify(execute(sg, JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (err) {
        payload = JSON.stringify({ errors: [{ message: String(err && err.message) }] });
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
}

const base = parseInt(process.argv[2] ?? '4101', 10);
['accounts', 'products', 'inventory', 'reviews'].forEach((name, i) => serve(name, base + i));
console.log(`subgraphs listening on 127.0.0.1:${base}..${base + 3}`);
