/**
 * HPACK's dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest
 * first, whose size (the sum of name + value + 32 per entry, §4.1) never
 * exceeds its maximum; adding an entry or lowering the maximum evicts the
 * oldest entries, and an entry larger than the maximum empties the table
 * (§4.4).
 *
 * Entries live in a ring of two arrays, so adding and evicting cost O(1)
 * (amortized over the ring's growth) and no entry object is allocated. The
 * ring holds at most `maxSize / 32` entries, the most a table can.
 *
 * @module
 */

/** Bytes an entry counts beyond its name and value (§4.1). */
export const ENTRY_OVERHEAD = 32;

/** The size of an entry for `name` and `value` (byte strings), §4.1. */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

/** Slots the ring starts with; it doubles as needed. */
const INITIAL_SLOTS = 16;

/**
 * One dynamic table, of a decoder or an encoder. Index 1 is the newest
 * entry (dynamic index 62 in HPACK's combined space). Every entry also has
 * an id, the count of entries added before it plus one, which does not
 * change as newer entries arrive; subclasses can track entries by id
 * through {@linkcode DynamicTable.added} and {@linkcode DynamicTable.evicted}.
 */
export class DynamicTable {
  #names: string[] = new Array(INITIAL_SLOTS);
  #values: string[] = new Array(INITIAL_SLOTS);
  /** Slot count minus one; the slot count is a power of two. */
  #mask = INITIAL_SLOTS - 1;
  /** Slot of the oldest entry. */
  #oldest = 0;
  #length = 0;
  #size = 0;
  #maxSize: number;
  /** Entries ever added: the id of the newest. */
  #added = 0;

  /** A table whose maximum size is `maxSize` bytes. */
  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  /** Number of entries. */
  get length(): number {
    return this.#length;
  }

  /** Current size in bytes, by §4.1. */
  get size(): number {
    return this.#size;
  }

  /** Maximum size in bytes (the last dynamic table size update). */
  get maxSize(): number {
    return this.#maxSize;
  }

  /** Name of entry `index` (1 = newest, up to {@linkcode length}). */
  name(index: number): string {
    return this.#names[(this.#oldest + this.#length - index) & this.#mask];
  }

  /** Value of entry `index` (1 = newest, up to {@linkcode length}). */
  value(index: number): string {
    return this.#values[(this.#oldest + this.#length - index) & this.#mask];
  }

  /** The index an entry has now, from its id (valid while it is held). */
  indexOfId(id: number): number {
    return this.#added - id + 1;
  }

  /**
   * Adds an entry as the newest, evicting the oldest ones until it fits;
   * one larger than the maximum size leaves the table empty (§4.4).
   */
  add(name: string, value: string): void {
    const size = entrySize(name, value);
    if (size > this.#maxSize) {
      this.#evictDownTo(0);
      return;
    }
    this.#evictDownTo(this.#maxSize - size);
    if (this.#length > this.#mask) this.#grow();
    const slot = (this.#oldest + this.#length) & this.#mask;
    this.#names[slot] = name;
    this.#values[slot] = value;
    this.#length++;
    this.#size += size;
    this.added(name, value, ++this.#added);
  }

  /** Sets the maximum size, evicting entries until the table fits (§4.3). */
  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize;
    this.#evictDownTo(maxSize);
  }

  /** Called after an entry is added, with its id. */
  protected added(_name: string, _value: string, _id: number): void {}

  /** Called after an entry is evicted, with its id. */
  protected evicted(_name: string, _value: string, _id: number): void {}

  /** Evicts the oldest entries until the size is at most `size`. */
  #evictDownTo(size: number): void {
    while (this.#size > size) {
      const slot = this.#oldest;
      const name = this.#names[slot];
      const value = this.#values[slot];
      // Drop the references so evicted strings can be collected.
      this.#names[slot] = "";
      this.#values[slot] = "";
      this.#oldest = (slot + 1) & this.#mask;
      this.#length--;
      this.#size -= entrySize(name, value);
      this.evicted(name, value, this.#added - this.#length);
    }
  }

  /** Doubles the ring, moving the entries to slots 0 up, oldest first. */
  #grow(): void {
    const slots = (this.#mask + 1) * 2;
    const names: string[] = new Array(slots);
    const values: string[] = new Array(slots);
    for (let i = 0; i < this.#length; i++) {
      const slot = (this.#oldest + i) & this.#mask;
      names[i] = this.#names[slot];
      values[i] = this.#values[slot];
    }
    this.#names = names;
    this.#values = values;
    this.#mask = slots - 1;
    this.#oldest = 0;
  }
}
