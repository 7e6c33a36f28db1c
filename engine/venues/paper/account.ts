// The paper venue's balances: the shared exchange ledger (engine/venues/ledger.ts).
export { baseAmount, Ledger as PaperAccount } from '../ledger.ts';
