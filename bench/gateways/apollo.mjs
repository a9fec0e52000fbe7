// Apollo Gateway on Apollo Server (standalone), serving a supergraph file. Apollo Gateway does not deduplicate
// in-flight subgraph requests. Usage: node gateways/apollo.mjs SUPERGRAPH_FILE PORT
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway } from '@apollo/gateway';

const supergraphSdl = readFileSync(process.argv[2], 'utf8');
const gateway = new ApolloGateway({ supergraphSdl });
const server = new ApolloServer({ gateway, csrfPrevention: false, introspection: false });
const { url } = await startStandaloneServer(server, { listen: { port: parseInt(process.argv[3], 10), host: '127.0.0.1' } });
console.log(`apollo gateway at ${url}`);
