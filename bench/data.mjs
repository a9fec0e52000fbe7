// The benchmark's data, deterministic; bench/run.py computes the expected answers from the same rules.
// 500 products: the first query shape reads the first 1..10, the merge-heavy one up to all of them.
export const PRODUCTS = 500;
const users = [];
for (let k = 1; k <= 10; k += 1) users.push({ id: `u${k}`, username: `user${k}`, name: `User ${k}` });
const products = [];
const reviews = [];
for (let i = 1; i <= PRODUCTS; i += 1) {
  products.push({ upc: `p${i}`, name: `Product ${i}`, price: i * 100, weight: i * 10, inStock: i % 3 !== 0 });
  for (let j = 1; j <= 3; j += 1) {
    reviews.push({ id: `r${i}-${j}`, body: `Review ${j} of product ${i}`, authorId: `u${((i + j) % 10) + 1}`, upc: `p${i}` });
  }
}
export const data = { users, products, reviews };
